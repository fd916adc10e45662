"""What of gpg's output a signing error shows: the problems, not the statistics."""

from __future__ import annotations

import pytest

from image_automation.git._signing import _problems

AGENT_FAILED = """\
gpg: keybox '/very/long/home/pubring.kbx' created
gpg: /very/long/home/trustdb.gpg: trustdb created
gpg: key B207F1CF201C75AC: public key "T <t@e>" imported
gpg: error running '/usr/bin/gpg-agent': exit status 2
gpg: failed to start agent '/usr/bin/gpg-agent': General error
gpg: can't connect to the agent: General error
gpg: error getting the KEK: No agent running
gpg: error reading 'key.asc': No agent running
gpg: import from 'key.asc' failed: No agent running
gpg: Total number processed: 0
gpg:               imported: 1
gpg:       secret keys read: 1
"""


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        (
            AGENT_FAILED,
            "gpg: error running '/usr/bin/gpg-agent': exit status 2; "
            "gpg: failed to start agent '/usr/bin/gpg-agent': General error; "
            "gpg: can't connect to the agent: General error; "
            "gpg: error getting the KEK: No agent running",
        ),
        ("gpg: no valid OpenPGP data found.\ngpg: Total number processed: 0\n",
         "gpg: no valid OpenPGP data found."),
        (
            "2026-12-02 01:03:27 gpg[25770] signing failed: Bad passphrase\n"
            "2026-12-02 01:03:27 gpg[25770] signing failed: Bad passphrase\n",
            "gpg: signing failed: Bad passphrase",
        ),
        ("gpg: key 0123ABCD: secret key imported\ngpg:       secret keys read: 1\n", ""),
        ("gpg: bad data near Authorization: Bearer abc.def.ghi\n",
         "gpg: bad data near Authorization: ***"),
    ],
)  # fmt: skip
def test_gpg_problems_are_shown_first_cause_first_without_statistics(
    output: str, shown: str
) -> None:
    assert _problems(output) == shown
