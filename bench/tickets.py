#!/usr/bin/env python3
"""Years of a desk's tickets, written straight into guichet's database:
the scale benchmarks (bench/scale) and the report's speed need a million
tickets, which ingesting mail would take hours to make.

    bench/tickets.py sqlite:///tmp/bench.db 1000000
    bench/tickets.py postgres://postgres@127.0.0.1:5432/bench 1000000

The database must be migrated (guichet migrate). Tickets are spread over
the ten years before --until (default 2026-12-01), a little more each
year, opened on weekdays in office hours mostly; six member organisations
of unequal size and outsiders; three queues; eight agents; first answers
and resolutions drawn from log-normal laws; most closed (validated, then
automatically, then by an agent), the last weeks' still open. The same
seed gives the same tickets. Standard library only.
"""

import argparse
import datetime as dt
import io
import math
import random
import sqlite3
import subprocess
import sys

ORGANISATIONS = [
    ("Ville de Bobigny", "ville-bobigny.fr", 30),
    ("Ville de Pantin", "ville-pantin.fr", 22),
    ("Ville de Bondy", "ville-bondy.fr", 15),
    ("Ville de Noisy-le-Sec", "noisylesec.fr", 12),
    ("Syndicat des eaux", "eaux-idf.example", 8),
    ("CCAS de Bobigny", "ccas-bobigny.fr", 6),
    (None, "gmail.com", 7),
]
QUEUES = [(None, 60), ("applications", 25), ("reseau", 15)]
TYPES = [("request", 55), ("incident", 40), ("information", 5)]
IMPACTS = [(None, 50), ("normal", 30), ("important", 14), ("blocking", 6)]
CATEGORIES = [(None, 35), ("Messagerie", 15), ("Impression", 14), ("Paie", 8),
              ("Etat civil", 8), ("Poste de travail", 12), ("Reseau", 8)]
AGENTS = [f"agent{i}@sau.example" for i in range(1, 9)]
FIRST = {"blocking": 1, "important": 4, "normal": 16, None: 16}
RESOLUTION = {"blocking": 8, "important": 24, "normal": 80, None: 80}
COLUMNS = ("number", "subject", "status", "close_reason", "ticket_type", "impact", "category",
           "organisation", "requester_email", "requester_name", "language", "created_at",
           "updated_at", "solved_at", "closed_at", "first_answer_due", "resolution_due",
           "first_answered_at", "queue", "assignee_email", "channel", "reopened")


def pick(rng, weighted):
    total = sum(w for *_, w in weighted)
    x = rng.uniform(0, total)
    for item in weighted:
        x -= item[-1]
        if x <= 0:
            return item[0] if len(item) == 2 else item[:-1]
    return weighted[-1][0] if len(weighted[-1]) == 2 else weighted[-1][:-1]


def office_time(rng, day):
    """A time on `day` when people write: office hours mostly."""
    if rng.random() < 0.85:
        minutes = rng.randint(8 * 60, 17 * 60 + 30)
    else:
        minutes = rng.randint(0, 24 * 60 - 1)
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)


def stamp(t):
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else None


def tickets(n, until, seed):
    rng = random.Random(seed)
    end = dt.datetime.combine(until, dt.time())
    start = until - dt.timedelta(days=3653)
    days = []
    d = start
    while d < until:
        if d.weekday() < 5 or rng.random() < 0.05:
            # A little more each year: the desk grows.
            days.append((d, 1.0 + (d - start).days / 3653 * 0.3))
        d += dt.timedelta(days=1)
    weights = [w for _, w in days]
    chosen = sorted(rng.choices([d for d, _ in days], weights=weights, k=n))
    for number, day in enumerate(chosen, start=1):
        created = office_time(rng, day)
        org, domain = pick(rng, ORGANISATIONS)
        impact = pick(rng, IMPACTS)
        first_h = rng.lognormvariate(math.log(FIRST[impact] * 0.6), 1.0)
        resolution_h = first_h + rng.lognormvariate(math.log(RESOLUTION[impact] * 0.6), 1.1)
        first = created + dt.timedelta(hours=first_h)
        solved = created + dt.timedelta(hours=resolution_h)
        age = (end - created).total_seconds() / 86400
        closed = reason = None
        status = "new"
        if first < end:
            status = "in_progress"
        if solved < end:
            status = "solved"
            r = rng.random()
            if r < 0.55:
                reason, closed = "validated", solved + dt.timedelta(hours=rng.uniform(0.5, 72))
            elif r < 0.90:
                reason, closed = "auto", solved + dt.timedelta(days=7)
            else:
                reason, closed, solved = "agent", solved, None
            if closed >= end:
                closed = reason = None
                if solved is None:
                    status = "in_progress"
            else:
                status = "closed"
        if age > 120 and status != "closed":
            # Old tickets are closed, whatever the law drew.
            status, reason = "closed", "agent"
            closed = created + dt.timedelta(days=rng.uniform(10, 90))
        if first >= end:
            first = None
        local = f"user{rng.randint(1, 40000)}"
        yield (
            number,
            f"Demande {number}",
            status,
            reason,
            pick(rng, TYPES),
            impact,
            pick(rng, CATEGORIES),
            org,
            f"{local}@{domain}",
            None,
            "fr",
            stamp(created),
            stamp(closed or first or created),
            stamp(solved if status in ("solved", "closed") else None),
            stamp(closed),
            stamp(created + dt.timedelta(hours=FIRST[impact])) if impact else None,
            stamp(created + dt.timedelta(hours=RESOLUTION[impact])) if impact else None,
            stamp(first),
            pick(rng, QUEUES),
            rng.choice(AGENTS) if first else None,
            "mail",
            1 if rng.random() < 0.03 else 0,
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url")
    p.add_argument("count", type=int)
    p.add_argument("--until", default="2026-12-01")
    p.add_argument("--seed", type=int, default=2026)
    a = p.parse_args()
    until = dt.date.fromisoformat(a.until)
    rows = tickets(a.count, until, a.seed)
    cols = ", ".join(COLUMNS)
    if a.url.startswith("sqlite://"):
        db = sqlite3.connect(a.url[len("sqlite://"):])
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        marks = ", ".join("?" * len(COLUMNS))
        with db:
            db.executemany(f"INSERT INTO tickets ({cols}) VALUES ({marks})", rows)
            db.execute("UPDATE counters SET value = ? WHERE name = 'ticket_number'", (a.count,))
        db.execute("ANALYZE")
        db.close()
    else:
        # COPY through psql: a million rows in seconds.
        buf = io.StringIO()
        for r in rows:
            buf.write("\t".join("\\N" if v is None else str(v) for v in r))
            buf.write("\n")
        copy = f"COPY tickets ({cols}) FROM STDIN"
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", a.url, "-c", copy],
                       input=buf.getvalue(), text=True, check=True)
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", a.url, "-c",
                        f"UPDATE counters SET value = {a.count} WHERE name = 'ticket_number'; ANALYZE tickets"],
                       check=True)
    print(f"{a.count} tickets written", file=sys.stderr)


if __name__ == "__main__":
    main()
