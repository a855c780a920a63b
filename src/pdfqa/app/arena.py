"""The online A/B arena: two answerers side by side, anonymised as A and B in a random order;
votes tallied with a 95% CI (scipy's exact binomial interval on the decided votes), and the
stable session → arm assignment that ``pdfqa serve --ab vX`` uses for the Ask tab."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

VOTES = ("A", "B", "tie", "both_bad")


def arm_for(session: str, arms: tuple[str, str], salt: int = 0) -> str:
    """The same session always gets the same arm; about half the sessions get each."""
    digest = hashlib.sha256(f"{salt}:{session}".encode()).digest()
    return arms[digest[0] % 2]


def order(session: str, question: str, left: str, right: str) -> tuple[str, str]:
    """Which arm is shown as A: decided by a hash, so neither side is always first."""
    digest = hashlib.sha256(f"{session}|{question}".encode()).digest()
    return (left, right) if digest[0] % 2 == 0 else (right, left)


@dataclass
class Tally:
    first: str
    second: str
    wins_first: int
    wins_second: int
    ties: int
    both_bad: int
    share_first: float | None
    ci_low: float | None
    ci_high: float | None

    def markdown(self, lang: str = "ko") -> str:
        decided = self.wins_first + self.wins_second
        if lang == "en":
            head = f"**{self.first}** vs **{self.second}**: {self.wins_first} : {self.wins_second}, ties {self.ties}, both bad {self.both_bad}"
            ci = (f"; {self.first} wins {100 * self.share_first:.0f}% of decided votes "
                  f"(95% CI {100 * self.ci_low:.0f}–{100 * self.ci_high:.0f}%)") if decided else ""  # fmt: skip
            return head + ci
        head = f"**{self.first}** 대 **{self.second}**: {self.wins_first} : {self.wins_second}, 무승부 {self.ties}, 둘 다 나쁨 {self.both_bad}"
        ci = (f"; 승패가 갈린 투표 중 {self.first} 승률 {100 * self.share_first:.0f}% "
              f"(95% 신뢰구간 {100 * self.ci_low:.0f}–{100 * self.ci_high:.0f}%)") if decided else ""  # fmt: skip
        return head + ci


def tally(votes: list[tuple[str, str, str]], first: str, second: str) -> Tally:
    """Votes are (arm shown as A, arm shown as B, vote) rows; only those between ``first`` and
    ``second`` count, whichever side each was shown on."""
    from scipy.stats import binomtest

    wins = {first: 0, second: 0}
    ties = both_bad = 0
    for a, b, vote in votes:
        if {a, b} != {first, second}:
            continue
        if vote == "A":
            wins[a] += 1
        elif vote == "B":
            wins[b] += 1
        elif vote == "tie":
            ties += 1
        elif vote == "both_bad":
            both_bad += 1
    decided = wins[first] + wins[second]
    share = low = high = None
    if decided:
        ci = binomtest(wins[first], decided).proportion_ci(0.95)
        share, low, high = wins[first] / decided, float(ci.low), float(ci.high)
    return Tally(first, second, wins[first], wins[second], ties, both_bad, share, low, high)
