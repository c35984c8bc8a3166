#!/usr/bin/env python3
"""Writes N realistic requests for the benchmark, made from the fixtures:
each a new request from its own requester (distinct address, subject and
Message-ID), so each becomes a ticket; about one in four carries an
attachment, as the fixtures do.

    bench/generate.py OUTDIR N
"""
import email
import email.policy
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "fixtures")
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)

# Templates: the fixtures a person wrote that open a request (no thread).
templates = []
for name in sorted(os.listdir(fixtures)):
    if not name.endswith(".eml"):
        continue
    with open(os.path.join(fixtures, name[:-4] + ".expected.json")) as f:
        expected = json.load(f)
    if expected["automatic"] is not None or expected["in_reply_to"]:
        continue
    with open(os.path.join(fixtures, name), "rb") as f:
        templates.append(f.read())

for i in range(n):
    msg = email.message_from_bytes(templates[i % len(templates)], policy=email.policy.compat32)
    for h in ("From", "Message-ID", "Subject", "References", "In-Reply-To", "Return-Path"):
        del msg[h]
    msg["From"] = f"Agent {i} <agent{i}@commune{i % 60}.example>"
    msg["Message-ID"] = f"<bench{i}.{os.getpid()}@commune{i % 60}.example>"
    msg["Subject"] = f"Demande {i} : poste {i % 500} en panne"
    with open(os.path.join(out, f"{i:06d}.eml"), "wb") as f:
        f.write(msg.as_bytes())
