"""The workflow: input decks (`deck`), `pyglass run` (`run`: sessions, studies, results), the stage
kinds a deck strings together (`stages`), `pyglass reproduce` (`reproduce`, with the papers in
`pyglass.papers`), figures (`plots`) and the command line (`cli`)."""
