"""The helpdesk's command line (`deskwatch`), a client of the collector's API that imports no server module.

client.py    the API over httpx; `fetch(path, type)` decodes each answer into its type
answers.py   the API's answers as Structs, one per response body
screens.py   answers -> tables and screens (pure)
whois.py     the lookup's answer as one screen (pure)
diag.py      `deskwatch diag`: run a check on an agent, its screens and exit status
commands.py  COMMANDS: each command's arguments and handler
"""
