"""The helpdesk console: server-rendered pages on the collector's HTTP listener.

    console = Console(ConsoleContext(...)); console.mount(service.app)

Queue, ticket, caller (`/pc/<agent_id>`), devices, silences, reports and agents, for
users with hashed passwords and sessions (`users.py`), with the same roles as the API.
Every page reads without JavaScript; `static/console.js` adds live refresh, search
suggestions and check results streamed into the page. docs/console.md describes it.
"""
