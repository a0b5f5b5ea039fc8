"""TOML input decks, split by job: `errors` (DeckError), `schema` (sections and keys), `validate`
(the whole-deck check, `Deck`, `load_deck`), `toml` (resolved deck out), `docs` (docs/deck.md).

A deck describes a study: the `[system]`, the `[potential]`, the `[[stage]]` pipeline (stage kinds
are registered in `pyglass/workflow/stages/`), optionally a `[study]` over samples and state points,
`[output]` and `[run]`. Potentials, integrators, minimizers, observables and stage kinds register
themselves where they are defined (`pyglass.registry`).
"""
from pyglass.workflow.deck.docs import schema_markdown  # noqa: F401
from pyglass.workflow.deck.errors import DeckError  # noqa: F401
from pyglass.workflow.deck.schema import (NUM, OBSERVABLE_COMMON, OUTPUT, REQUIRED, RUN, SCHEMA, STUDY, SYSTEM,  # noqa: F401
                                    Key, signature_schema)
from pyglass.workflow.deck.toml import dump_toml  # noqa: F401
from pyglass.workflow.deck.validate import (MD_KINDS, Deck, _format_of, load_deck, make_schedule, parse_deck,  # noqa: F401
                                      validate_catalogue_table, validate_observable)
from pyglass.registry import OBSERVABLES, ObservableType  # noqa: F401
