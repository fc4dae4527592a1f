"""Support shared by the tests and the benches: real brokers, example messages, small
cities, staff, the portal under test, browsers. Not packaged (pyproject packages only
devices, central_cms, signage_player and portal), so devices never ship it."""
