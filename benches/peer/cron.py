#!/usr/bin/env python3
"""What an ArcGIS administrator would otherwise run from cron: the peer baseline of BENCHMARKS.md.

Python's standard library only. Each run signs in, lists the notebook jobs in one call, diffs them
against a SQLite table, decides the runaway cancels (executing longer than --runaway-minutes) and
the failure notices (a job newly FAILED), records the new state and prints the decisions. Like
nbwarden it commits with synchronous=FULL, and the first run is a baseline without decisions.

    cron.py --portal URL --admin URL --username U --password P --state FILE
"""
import argparse, json, sqlite3, sys, time, urllib.parse, urllib.request

REFERER = "http://nbwarden-peer"


def call(url, data=None, token=None):
    headers = {"Referer": REFERER}
    if token:
        headers["X-Esri-Authorization"] = f"Bearer {token}"
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=60) as response:
        answer = json.load(response)
    if "error" in answer:
        sys.exit(f"{url}: {answer['error']}")
    return answer


def main():
    p = argparse.ArgumentParser()
    for name in ["portal", "admin", "username", "password", "state"]:
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--runaway-minutes", type=float, default=90)
    a = p.parse_args()
    form = {"username": a.username, "password": a.password, "client": "referer", "referer": REFERER, "f": "json", "expiration": 60}
    token = call(f"{a.portal}/sharing/rest/generateToken", form)["token"]
    listed = call(f"{a.admin}/notebooks/jobs?f=json", token=token)["asyncNotebookJobs"]
    now = time.time() * 1000

    db = sqlite3.connect(a.state)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT, job TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS fired (id TEXT, what TEXT, PRIMARY KEY (id, what))")
    baseline = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    before = dict(db.execute("SELECT id, status FROM jobs"))
    fired = set(db.execute("SELECT id, what FROM fired"))

    changed, decisions = [], []
    for job in listed:
        old = before.pop(job["jobId"], None)
        if old != job["status"]:
            changed.append((job["jobId"], job["status"], json.dumps(job)))
        runtime_min = (now - job.get("startTime", now)) / 60000
        if job["status"] == "EXECUTING" and runtime_min > a.runaway_minutes and (job["jobId"], "cancel") not in fired:
            decisions.append((job["jobId"], "cancel"))
        if not baseline and job["status"] == "FAILED" and old != "FAILED":
            decisions.append((job["jobId"], "notify"))
    with db:
        db.executemany("INSERT OR REPLACE INTO jobs (id, status, job) VALUES (?, ?, ?)", changed)
        db.executemany("DELETE FROM jobs WHERE id = ?", [(gone,) for gone in before])
        db.executemany("INSERT OR IGNORE INTO fired (id, what) VALUES (?, ?)", decisions)
    for job_id, what in decisions:
        print(f"{what} {job_id}")
    print(f"{len(listed)} jobs, {len(changed)} changed, {len(before)} gone, {len(decisions)} decisions", file=sys.stderr)


if __name__ == "__main__":
    main()
