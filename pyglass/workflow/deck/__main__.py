"""python -m pyglass.workflow.deck --docs > docs/deck.md"""
import sys

from pyglass.workflow.deck.docs import schema_markdown

if "--docs" in sys.argv:
    sys.stdout.write(schema_markdown())
else:
    print("usage: python -m pyglass.workflow.deck --docs", file=sys.stderr)
    sys.exit(2)
