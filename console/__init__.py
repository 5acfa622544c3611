"""The web console: one Starlette application for clerks (this package's clerk page) and managers.

Layout: `accounts` (users file, hashed passwords and PINs, roles), `sessions` (signed, time-limited
cookies and CSRF tokens), `hall` (the console's one MQTT connection: commands, mirrored state,
server-sent events), `app` (the application, sign-in and access rules), `clerk` (the clerk page and
its API), `command` (`onewindow console`).
"""
