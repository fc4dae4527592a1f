"""Live feeds (issue 14): iCal, RSS/Atom, JSON and CSV sources the CMS fetches on a
schedule, validates into `devices.protocol.FeedEntry` and publishes signed and retained
as ``ds.feed/1``, so widgets on screens and the portal's "What's on" can follow them.

`models` holds the table, `catalogue` what the compiler reads, `fetch` the HTTP side,
`parsers` the pure parsing, `publish` the signed retained copy, `refresh` the schedule.
"""
