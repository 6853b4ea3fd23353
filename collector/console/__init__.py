"""The helpdesk console: server-rendered pages on the collector's HTTP listener.

    mount(app, ConsoleContext(...))    # collector.console.pages; collector.app does it

Queue, ticket, caller (`/pc/<agent_id>`), devices, silences, reports and agents, for
users with hashed passwords and sessions (collector/auth/users.py), with the same roles as the API.
Every page reads without JavaScript; `static/console.js` adds live refresh, search
suggestions and check results streamed into the page. docs/console.md describes it.
"""
