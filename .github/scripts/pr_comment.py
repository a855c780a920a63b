#!/usr/bin/env python3
"""Create or update the one pdfqa report comment on a pull request.

    python .github/scripts/pr_comment.py --body-file report/comment.md

The comment is found by the hidden marker on the body's first line (``pdfqa report`` writes it),
so every push updates the same comment instead of adding one. Standard library only: the comment
job installs nothing and never sees the PR's code. Environment (set by the workflow):
``GITHUB_TOKEN`` (pull-requests: write), ``GITHUB_REPOSITORY`` (owner/name), ``PR_NUMBER``, and
``GITHUB_API_URL`` (GitHub sets it; https://api.github.com when unset).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

LIMIT = 65_536  # GitHub's cap on a comment body, in characters
CUT_NOTE = "\n\n_(cut to GitHub's 65,536-character comment limit; the full report is the workflow artifact)_\n"


class GitHubError(RuntimeError):
    pass


def _request(method: str, url: str, token: str, body: dict | None = None, attempts: int = 3):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "pdfqa-pr-comment"}  # fmt: skip
    if data is not None:
        headers["Content-Type"] = "application/json"
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read().decode() or "null"
                return json.loads(payload), response.headers.get("Link", "")
        except urllib.error.HTTPError as exc:
            if exc.code in (429, 500, 502, 503) and attempt + 1 < attempts:
                time.sleep(2**attempt)
                continue
            detail = exc.read().decode(errors="replace")[:300]
            raise GitHubError(f"{method} {url}: HTTP {exc.code} {detail}") from None
        except urllib.error.URLError as exc:
            if attempt + 1 < attempts:
                time.sleep(2**attempt)
                continue
            raise GitHubError(f"{method} {url}: {exc.reason}") from None
    raise GitHubError(f"{method} {url}: no answer")


def _next_page(link_header: str) -> str | None:
    match = re.search(r'<([^>]+)>;\s*rel="next"', link_header)
    return match.group(1) if match else None


def find_comment(api: str, repo: str, pr: int, token: str, marker: str) -> dict | None:
    """The PR's existing comment carrying ``marker`` (all pages are read), or None."""
    url: str | None = f"{api}/repos/{repo}/issues/{pr}/comments?per_page=100"
    while url:
        comments, link = _request("GET", url, token)
        for comment in comments:
            if marker in (comment.get("body") or ""):
                return comment
        url = _next_page(link)
    return None


def fit(body: str, limit: int = LIMIT) -> str:
    if len(body) <= limit:
        return body
    return body[: limit - len(CUT_NOTE)].rsplit("\n", 1)[0] + CUT_NOTE


def upsert(api: str, repo: str, pr: int, token: str, body: str) -> tuple[str, dict]:
    """("created" | "updated", the comment) for the one marker-carrying comment of the PR."""
    marker = body.splitlines()[0].strip() if body.strip() else ""
    if not (marker.startswith("<!--") and marker.endswith("-->")):
        raise GitHubError("the body must start with the hidden marker line `pdfqa report` writes")
    body = fit(body)
    existing = find_comment(api, repo, pr, token, marker)
    if existing:
        comment, _ = _request("PATCH", f"{api}/repos/{repo}/issues/comments/{existing['id']}",
                              token, {"body": body})  # fmt: skip
        return "updated", comment
    comment, _ = _request("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
    return "created", comment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body-file", required=True, help="markdown written by `pdfqa report`")
    args = parser.parse_args(argv)
    env = os.environ
    missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "PR_NUMBER") if not env.get(k)]
    if missing:
        print(f"error: set {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        with open(args.body_file, encoding="utf-8") as fh:
            body = fh.read()
        action, comment = upsert(env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
                                 env["GITHUB_REPOSITORY"], int(env["PR_NUMBER"]),
                                 env["GITHUB_TOKEN"], body)  # fmt: skip
    except (OSError, ValueError, GitHubError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{action} comment {comment.get('html_url', comment.get('id'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
