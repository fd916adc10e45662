"""One head branch's pull request, taken one step further: the lifecycle, run once.

Order matters and is the design's (docs/pull-requests.md, "Lifecycle"):

1. the forge's view (read while git fetches: neither needs the other) — the recorded pull
   request by number (a 304 in the steady state),
   else the open one of the head branch (so a run killed between push and create, or
   between create and record, adopts what it made instead of making it twice); merged →
   forget it; closed unmerged by someone else → refuse its versions; found again open after
   such a close → lift the refusal;
2. the ticked boxes of its body ("ignore this version" closes it now; "rebase" forces a push);
3. git's view — the head branch on the remote, re-created locally from the current base, and
   what this group's edit would change there, minus refused versions;
4. the branch is ours only while every commit on it over the base is ours: otherwise we
   comment once and never push again until it is ours again;
5. limits are checked before anything is pushed, so a deferred pull request leaves no branch;
6. the text rendered once without registry lookups, so a broken template fails before any
   push; push (with a lease on the value we judged) unless the branch already carries
   exactly this change, while the images' OCI labels are looked up; open or update (title,
   body, labels only when they differ); record.

Every forge write is idempotent or preceded by a read that finds its earlier effect, so a
run killed anywhere, or retried after a rate limit, never makes a second pull request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Change, Decision, ImageRef, UpdateResult
from image_automation.engine._pr_content import RegistryAccess, TextInputs, provenance, render
from image_automation.engine._pr_forges import decorate
from image_automation.engine._pr_groups import (
    Group,
    foreign_warning,
    policy_of,
    refused_policies,
    setter_changes,
)
from image_automation.engine._pr_outcome import Action, PullRequestOutcome, Settled
from image_automation.engine.automations import AutomationPlan, PullRequestPlan
from image_automation.errors import ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable
from image_automation.forges import Forge, NewPullRequest, PullRequest
from image_automation.git import BranchHeads, Workspace
from image_automation.git.pull_requests import (
    ImageProvenance,
    RenderedPullRequest,
    owned_by,
    read_checkboxes,
)
from image_automation.state import IgnoredVersion, PullRequestRecord, PushRecord, StateStore

log = logging.getLogger(__name__)

Edit = Callable[[Path, Mapping[str, ImageRef], bool], Awaitable[UpdateResult]]
"""``edit(root, images, dry_run)``: the automation's update of ``root`` for these images."""
Rollbacks = Callable[[Sequence[Change]], Awaitable[set[str]]]
"""``rollbacks(changes)``: the policies (by name) that the rollback gate holds, given the
changes a dry edit of the base would make (it updates the shared decisions itself)."""
Text = Callable[["GroupRun", UpdateResult], Awaitable[RenderedPullRequest]]
"""``text(run, result)``: a pull request's title and body other than an automation's
(promotions render their own); the body must end with our footer (``owned_by`` reads it)."""

HUMAN_NOTICE = (
    "This branch has commits that image-automation did not make, so it will not push to it "
    "any more: your commits stay. Newer versions are held back here until the branch holds "
    "only its commits again (reset it to the last commit it pushed), or this pull request "
    "is merged or closed."
)


@dataclass(frozen=True, slots=True)
class Shared:
    """What every group of one automation's run shares."""

    plan: AutomationPlan
    pr: PullRequestPlan
    provider: str
    forge: Forge
    store: StateStore
    workspace: Workspace
    edit: Edit
    clock: Callable[[], datetime]
    decisions: Mapping[str, Decision]
    selected: frozenset[str] = frozenset()
    """Every policy the automation selected an image for (all groups)."""
    policies: Sequence[ResolvedPolicy] = ()
    access: RegistryAccess | None = None
    dry_run: bool = False
    rollbacks: Rollbacks | None = None
    """The rollback gate: a human commit on the base setting an older value than a merged
    pull request of ours carried holds that policy."""
    text: Text | None = None
    """Renders the pull request's text instead of the automation renderer."""
    close_comment: str | None = None
    """Said when closing a pull request the base needs nothing of any more."""


@dataclass(slots=True)
class GroupRun:
    """The lifecycle of one group; :meth:`run` once per reconcile."""

    s: Shared
    group: Group
    record: PullRequestRecord | None = None
    refused: list[IgnoredVersion] = field(default_factory=list)
    images: dict[str, ImageRef] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settled: list[Settled] = field(default_factory=list)
    edited: UpdateResult | None = None
    current: PullRequest | None = None
    """The open pull request of the head as this run found it (a text renderer may keep
    what it said)."""

    @property
    def key(self) -> str:
        return self.s.plan.key

    @property
    def head(self) -> str:
        return self.group.head

    @property
    def base(self) -> str:
        return self.s.plan.repo.branch

    def outcome(
        self, action: Action, pr: PullRequest | None = None, *, detail: str = "",
        result: UpdateResult | None = None, text: RenderedPullRequest | None = None,
        warnings: Sequence[str] = (),
    ) -> PullRequestOutcome:  # fmt: skip
        out = PullRequestOutcome(
            self.head, action, detail="; ".join(filter(None, [*self.notes, detail]))
        )
        if pr is not None:
            out.number, out.url = pr.number, pr.url
        out.settled = list(self.settled)
        if result is not None:
            out.changes, out.diff = result.changes, result.diff
        if text is not None:
            out.title, out.body = text.title, text.body
        if self.edited is not None:  # what the edit said of the files, but of other groups
            others = sorted(self.s.selected - set(self.images))
            ns = self.s.plan.namespace
            out.warnings = [
                w
                for w in self.edited.warnings
                if not foreign_warning(w, namespace=ns, others=others)
            ]
            out.file_errors = list(self.edited.errors)
        out.warnings.extend(warnings)
        return out

    async def run(self) -> PullRequestOutcome:
        # The forge's view and git's are independent: neither waits for the other.
        pr, heads = await asyncio.gather(
            self._forge_view(), self.s.workspace.prepare_branch(self.head), return_exceptions=True
        )
        if isinstance(pr, BaseException):
            raise pr
        self.current = pr
        ours = self.record is not None or pr is None or owned_by(pr.body) == (self.key, self.head)
        if pr is not None and not ours:  # found by its head, and not made by us
            return self.outcome("held", pr, detail="this pull request was not opened by us")
        if isinstance(heads, BaseException):
            raise heads
        result = await self._desired()
        if pr is not None and read_checkboxes(pr.body).ignore:
            return await self._ignore_by_request(pr, heads, result)
        if not result.changes:
            return await self._nothing_to_do(pr, heads)
        if heads.head is not None and not await self._ours(heads):
            return await self._hold(pr, heads, result)
        if pr is None:
            limit = await self._limited()
            if limit:
                return self.outcome("deferred", detail=limit, result=result)
        if self.s.dry_run:
            text = await self._text(result, await self._provenance(result))
            action: Action = "would-open" if pr is None else "would-update"
            return self.outcome(action, pr, result=result, text=text)
        if self.s.text is None:  # a template that fails does so before anything is pushed
            self._render(result, {})
        rebase = pr is not None and read_checkboxes(pr.body).rebase
        pushed, moved, images = await self._push_and_look_up(heads, result, rebase=rebase)
        text = await self._text(result, images)
        if pr is None:
            return await self._open(text, result, pushed)
        return await self._update(pr, text, result, pushed=pushed, moved=moved)

    # -- 1. the forge's view ----------------------------------------------------------------

    async def _forge_view(self) -> PullRequest | None:
        self.refused = list(await self.s.store.ignored_versions(self.key))
        self.record = record = await self.s.store.pull_request(self.key, self.head)
        if record is not None:
            try:
                pr: PullRequest | None = await self.s.forge.get_pull_request(record.number)
            except ForgeNotFound:
                pr = None
            if pr is not None and pr.state == "open":
                return pr
            await self._settle(record, pr)
        found = await self.s.forge.find_pull_request(self.head, base=self.base)
        if found is not None and any(iv.number == found.number for iv in self.refused):
            self.notes.append(f"#{found.number} was reopened: its versions are wanted again")
            if not self.s.dry_run:
                await self.s.store.unignore_pull_request(self.key, found.number)
            self.refused = [iv for iv in self.refused if iv.number != found.number]
        return found

    async def _settle(self, record: PullRequestRecord, pr: PullRequest | None) -> None:
        """The recorded pull request is merged, closed by someone else, or gone."""
        self.record = None
        if pr is not None and pr.state == "closed":
            self.notes.append(f"#{pr.number} was closed unmerged: its versions are refused")
            self.settled.append(Settled("closed", pr.number, pr.url))
            reason, now = f"pull request #{pr.number} was closed without merging", self.s.clock()
            self.refused += [
                IgnoredVersion(self.key, self.head, c.setter, c.new, pr.number, reason, now)
                for c in record.changes
            ]
            if not self.s.dry_run:
                await self.s.store.ignore_versions(
                    self.key, self.head, record.changes, number=pr.number, reason=reason, now=now
                )
        elif pr is not None:
            self.notes.append(f"#{pr.number} was merged")
            self.settled.append(Settled("merged", pr.number, pr.url))
            if not self.s.dry_run and record.pushed_sha:  # what we wrote, for rollbacks
                await self.s.store.record_push(
                    PushRecord(self.key, record.pushed_sha, self.s.clock(), record.changes)
                )
        else:
            self.notes.append(f"#{record.number} is gone from the forge")
        if not self.s.dry_run:
            await self.s.store.forget_pull_request(self.key, self.head)

    # -- 3. what the edit would change ------------------------------------------------------

    async def _desired(self) -> UpdateResult:
        """The group's edit on the fresh base checkout (nothing written), minus refusals."""
        root, images = self.s.workspace.path, dict(self.group.images)
        result = await self.s.edit(root, images, True)
        held = await self.s.rollbacks(result.changes) if self.s.rollbacks else set()
        if held:  # the base's checkout is HEAD here: blame sees the base's history
            images = {n: ref for n, ref in images.items() if n not in held}
            result = await self.s.edit(root, images, True)
        refused = refused_policies(result.changes, self.refused)
        if refused:
            for iv in self.refused:
                name = policy_of(iv.setter)
                if name in refused:
                    self.held[f"{self.s.plan.namespace}/{name}"] = f"{iv.value}: {iv.reason}"
            images = {n: ref for n, ref in images.items() if n not in refused}
            result = await self.s.edit(root, images, True)
        for key, decision in sorted(self.s.decisions.items()):  # rollback holds, windows
            why = decision.hold.reason if decision.hold else decision.window
            if why:
                self.held.setdefault(key, why)
        self.images, self.edited = images, result
        return result

    async def _nothing_to_do(
        self, pr: PullRequest | None, heads: BranchHeads
    ) -> PullRequestOutcome:
        ours = heads.head is None or await self._ours(heads)
        if pr is not None and not ours:  # a human works on it: their pull request now
            return await self._hold(pr, heads, UpdateResult())
        if pr is None:
            if heads.head and ours and self.record is None and not self.s.dry_run:
                await self.s.workspace.delete_branch(self.head, expect=heads.head)
            detail = "versions held back: " + "; ".join(self.held.values()) if self.held else ""
            return self.outcome("unchanged", detail=detail)
        if self.s.dry_run:
            return self.outcome("would-close", pr, detail=f"{self.base} already has its versions")
        comment = self.s.close_comment or (
            f"Closing: `{self.base}` already has every version this pull request proposed."
        )
        await self.s.forge.close_pull_request(pr.number, comment=comment)
        await self.s.store.forget_pull_request(self.key, self.head)
        if ours and heads.head:
            await self.s.workspace.delete_branch(self.head, expect=heads.head)
        return self.outcome("closed", pr, detail=f"{self.base} already has its versions")

    # -- 4. whose branch --------------------------------------------------------------------

    async def _ours(self, heads: BranchHeads) -> bool:
        """Every commit the branch has over the base is ours (or it has none)."""
        assert heads.head is not None
        if self.record is not None and heads.head == self.record.pushed_sha:
            return True
        emails = await self.s.workspace.committers(base=heads.base, head=heads.head)
        return all(e == self.s.plan.commit.author_email for e in emails)

    async def _hold(
        self, pr: PullRequest | None, heads: BranchHeads, result: UpdateResult
    ) -> PullRequestOutcome:
        detail = "human commits on the branch: not pushing to it"
        if pr is None:
            return self.outcome("held", detail=f"{detail} (and it has no pull request)")
        record = self.record or self._new_record(pr, pushed=None, result=result)
        if not record.notice_posted and not self.s.dry_run:
            await self.s.forge.comment(pr.number, HUMAN_NOTICE)
        if not self.s.dry_run:
            held = replace(record, human_sha=heads.head, notice_posted=True,
                           updated_at=self.s.clock())  # fmt: skip
            await self.s.store.save_pull_request(held)
        return self.outcome("held", pr, detail=detail, result=result)

    # -- 5. limits ------------------------------------------------------------------------

    async def _limited(self) -> str:
        """Why no pull request may be opened now ("" when one may)."""
        now = self.s.clock()
        opened = await self.s.store.pull_requests_opened_since(self.key, now - timedelta(hours=1))
        if opened >= self.s.pr.per_hour:
            return f"limit: {opened} opened in the last hour (limits.perHour {self.s.pr.per_hour})"
        records = await self.s.store.pull_requests(self.key)
        open_now = sum(1 for r in records if r.state == "open")
        if open_now >= self.s.pr.max_open:
            return f"limit: {open_now} open (limits.open {self.s.pr.max_open})"
        return ""

    # -- 6. text, push, open or update ------------------------------------------------------

    async def _text(
        self, result: UpdateResult, images: Mapping[str, ImageProvenance]
    ) -> RenderedPullRequest:
        if self.s.text is not None:  # another renderer (a promotion's)
            return await self.s.text(self, result)
        return self._render(result, images)

    async def _provenance(self, result: UpdateResult) -> dict[str, ImageProvenance]:
        if self.s.text is not None:  # its own renderer needs no registry labels
            return {}
        return await provenance(
            self.s.access, policies=self.s.policies, result=result, selected=self.images
        )

    async def _push_and_look_up(
        self, heads: BranchHeads, result: UpdateResult, *, rebase: bool
    ) -> tuple[str, bool, dict[str, ImageProvenance]]:
        """:meth:`_push`, with the images' registry labels looked up meanwhile."""
        lookup = asyncio.ensure_future(self._provenance(result))
        try:
            pushed, moved = await self._push(heads, rebase=rebase)
        except BaseException:
            lookup.cancel()
            await asyncio.gather(lookup, return_exceptions=True)
            raise
        return pushed, moved, await lookup

    def _render(
        self, result: UpdateResult, images: Mapping[str, ImageProvenance]
    ) -> RenderedPullRequest:
        names = set(self.images)
        decisions = {
            key: d for key, d in self.s.decisions.items() if key.split("/", 1)[-1] in names
        }
        inputs = TextInputs(
            automation=self.key, head=self.head, base=self.base, provider=self.s.provider,
            title_template=self.s.pr.title_template, body_template=self.s.pr.body_template,
        )  # fmt: skip
        return render(inputs, result=result, decisions=decisions, selected=self.images,
                      held=self.held, images=images, namespace=self.s.plan.namespace)  # fmt: skip

    async def _push(self, heads: BranchHeads, *, rebase: bool) -> tuple[str, bool]:
        """(the branch's commit, whether we pushed it now)."""
        plan, images = self.s.plan, self.images

        async def apply(root: Path) -> UpdateResult:
            return await self.s.edit(root, images, False)

        workspace = self.s.workspace
        result = await workspace.write(apply)
        # The branch already carries exactly this edit: take it as is, commit nothing.
        head = heads.head if not rebase else None
        if (
            head
            and self._may_carry(head, result)
            and await workspace.adopt(head=head, base=heads.base)
        ):
            return head, False
        sha = await workspace.commit(
            result, plan.commit, automation=plan.object_name, values=plan.values
        )
        if sha is None:  # the dry edit changed something: this one must have too
            raise ForgeError(f"{self.head}: the edit changed nothing on the second pass")
        await workspace.force_push(self.head, options=plan.push.options)
        return sha, True

    def _may_carry(self, head: str, result: UpdateResult) -> bool:
        """Could ``head`` hold this edit? Not when it is the commit we recorded pushing with
        other values (a newer version): then the trees differ and git need not be asked."""
        record = self.record
        if record is None or record.pushed_sha != head:
            return True
        return record.changes == setter_changes(result.changes)

    async def _open(
        self, text: RenderedPullRequest, result: UpdateResult, pushed: str
    ) -> PullRequestOutcome:
        pr = self.s.pr
        labels = pr.labels if self.s.forge.capabilities.labels else ()
        new = NewPullRequest(self.head, self.base, text.title, text.body, labels, pr.draft)
        warnings: list[str] = []
        try:
            opened = await self._create(new)
        except ForgeNotFound as exc:  # a label the forge does not know (Gitea, Forgejo)
            if not labels:
                raise
            warnings.append(f"labels not set: {exc}")
            opened = await self._create(replace(new, labels=()))
        warnings += await decorate(self.s.forge, opened, self.s.pr, provider=self.s.provider)
        now = self.s.clock()
        await self.s.store.record_pull_request_opened(self.key, opened.number, now=now)
        await self.s.store.save_pull_request(self._new_record(opened, pushed=pushed, result=result))
        return self.outcome("opened", opened, result=result, text=text, warnings=warnings)

    async def _create(self, new: NewPullRequest) -> PullRequest:
        try:
            return await self.s.forge.open_pull_request(new)
        except (ForgeUnavailable, ForgeConflict):  # it may exist after all: find, never repeat
            found = await self.s.forge.find_pull_request(self.head, base=self.base)
            if found is None:
                raise
            return found

    async def _update(
        self, pr: PullRequest, text: RenderedPullRequest, result: UpdateResult, *,
        pushed: str, moved: bool,
    ) -> PullRequestOutcome:  # fmt: skip
        edits: dict[str, object] = {}
        if pr.title != text.title:
            edits["title"] = text.title
        if _normal(pr.body) != _normal(text.body):
            edits["body"] = text.body
        wanted = set(self.s.pr.labels) - set(pr.labels)
        if wanted and self.s.forge.capabilities.labels:
            edits["labels"] = tuple(sorted(set(pr.labels) | wanted))
        warnings: list[str] = []
        try:
            if edits:
                pr = await self.s.forge.update_pull_request(pr.number, draft=pr.draft, **edits)  # type: ignore[arg-type]
        except ForgeNotFound as exc:  # a label the forge does not know (Gitea, Forgejo)
            if edits.pop("labels", None) is None:
                raise
            warnings.append(f"labels not set: {exc}")
            if edits:
                pr = await self.s.forge.update_pull_request(pr.number, draft=pr.draft, **edits)  # type: ignore[arg-type]
        if self.record is None:  # adopted after a restart: finish what the first run began
            warnings += await decorate(self.s.forge, pr, self.s.pr, provider=self.s.provider)
            await self.s.store.record_pull_request_opened(self.key, pr.number, now=self.s.clock())
        record = self._new_record(pr, pushed=pushed, result=result)
        await self.s.store.save_pull_request(record)
        if self.record is not None and self.record.human_sha:
            self.notes.append("the branch is ours again")
        action: Action = "updated" if edits or moved else "unchanged"
        return self.outcome(action, pr, result=result, text=text, warnings=warnings)

    async def _ignore_by_request(
        self, pr: PullRequest, heads: BranchHeads, result: UpdateResult
    ) -> PullRequestOutcome:
        """The "ignore this version" box is ticked: refuse what it carries and close it."""
        detail = "ignored by request"
        if self.s.dry_run:
            return self.outcome("would-close", pr, detail=detail)
        changes = self.record.changes if self.record else setter_changes(result.changes)
        if changes:
            await self.s.store.ignore_versions(
                self.key, self.head, changes, number=pr.number,
                reason=f"ignored by request in pull request #{pr.number}", now=self.s.clock(),
            )  # fmt: skip
        comment = "Closing as asked: these versions will not be proposed again."
        await self.s.forge.close_pull_request(pr.number, comment=comment)
        await self.s.store.forget_pull_request(self.key, self.head)
        if heads.head is not None and await self._ours(heads):
            await self.s.workspace.delete_branch(self.head, expect=heads.head)
        return self.outcome("closed", pr, detail=detail)

    def _new_record(
        self, pr: PullRequest, *, pushed: str | None, result: UpdateResult
    ) -> PullRequestRecord:
        now = self.s.clock()
        return PullRequestRecord(
            automation=self.key, head=self.head, provider=self.s.provider, number=pr.number,
            url=pr.url, state="open", base=self.base, pushed_sha=pushed,
            changes=setter_changes(result.changes),
            opened_at=self.record.opened_at if self.record else now, updated_at=now,
        )  # fmt: skip


def _normal(text: str) -> str:
    """A body as forges give it back: line endings and trailing blanks may differ."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


__all__ = ["HUMAN_NOTICE", "Edit", "GroupRun", "Rollbacks", "Shared", "Text"]
