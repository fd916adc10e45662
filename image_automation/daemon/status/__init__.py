"""The status page, its JSON API and the data behind ``image-automation status``.

``model`` turns state records into views (pure, table-tested); ``timeline`` draws a policy's
versions in Git as SVG (pure); ``events`` lists what happened (pure); ``auth`` checks a
request's credentials (pure); ``web`` serves it all from the daemon's aiohttp app.
"""
