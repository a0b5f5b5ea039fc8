"""python -m pyglass.io.deck --docs > docs/deck.md"""
import sys

from pyglass.io.deck.docs import schema_markdown

if "--docs" in sys.argv:
    sys.stdout.write(schema_markdown())
else:
    print("usage: python -m pyglass.io.deck --docs", file=sys.stderr)
    sys.exit(2)
