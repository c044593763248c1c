"""`make bench`: the benchmark report of DESIGN section 5, each number beside its floor.

`python -m learning.bench` builds a throwaway world (a temp folder with a SQLite database and
its own Chroma server), starts Daphne and a `qcluster` on it the way `make run` does, measures,
stops everything it started and prints one JSON report on stdout. The floor view, the echo
consumer, the URL conf and the ASGI app in this package exist for the bench only.
"""
