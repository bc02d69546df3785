"""Run a campaign: declare submissions, drive each job's chain, download, write the manifest."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.engine.account import SharedSlots
from orchestrator.engine.clips import Clips
from orchestrator.engine.context import JobOutcome, Pacing, RunConfig, RunReport, Runtime
from orchestrator.engine.downloads import remove_stale_parts
from orchestrator.engine.holds import budget_shortfall, chain_needs
from orchestrator.engine.manifest import (
    manifest_path,
    read_results,
    restore_from_manifest,
    save_manifest,
)
from orchestrator.engine.orders import Orders
from orchestrator.engine.pacing import AdaptiveSlots
from orchestrator.engine.poller import Poller
from orchestrator.engine.preflight import FreeSpace, preflight
from orchestrator.engine.progress import Snapshot
from orchestrator.engine.sources import Sources
from orchestrator.engine.submission import (
    HaltedError,
    InDoubtError,
    JobFailedError,
    JobStuckError,
    RunStoppedError,
    StopRequestedError,
    Submitter,
)
from orchestrator.errors import (
    BudgetError,
    CannotWriteError,
    DownloadError,
    ManifestNotWrittenError,
    ProviderError,
    StateError,
)
from orchestrator.graph import build_graph, upload_key
from orchestrator.model import Campaign, Job, JobStatus
from orchestrator.qc.images import ImageCache
from orchestrator.qc.takes import ClipChecker, ClipsFailedError, restore_retake, retake_of
from orchestrator.results import Manifest
from orchestrator.state import FileRecord, Reads, Status, Submission, SubmissionSpec
from orchestrator.uploads import is_fresh

PROGRESS_EVERY = 0.5
WRITE_TRIES = 6  # a clip that cannot be written is tried again this often while the run drains
WRITE_RETRY_SECONDS = 10.0
# A job whose base clip an earlier run left in one of these is under way at the provider.
_UNDER_WAY = (Status.SUBMITTING, Status.SUBMITTED, Status.RUNNING, Status.SUCCEEDED)
SHARE_EVERY = 5.0  # seconds between looks at how many runners share the account
T = TypeVar("T")


def select_jobs(campaign: Campaign, globs: Iterable[str]) -> tuple[Job, ...]:
    """Jobs whose name matches any of ``globs`` (all jobs when there are none)."""
    patterns = tuple(globs)
    if not patterns:
        return campaign.jobs
    return tuple(job for job in campaign.jobs if any(fnmatchcase(job.name, p) for p in patterns))


def _rotated(jobs: tuple[Job, ...], owner: str) -> list[Job]:
    """The jobs in file order from a point of this runner's own: runners sharing a campaign
    start on different jobs instead of all waiting on the first ones' leases."""
    if not jobs:
        return []
    start = int(hashlib.sha256(owner.encode()).hexdigest(), 16) % len(jobs)
    return [*jobs[start:], *jobs[:start]]


def _judged(job: Job, step: int) -> bool:
    """Whether the chain waits for the checks of step ``step``'s clips: to extend them (unless
    the extension is approved, even with --force), or, at its end, to decide a retake."""
    if step < len(job.extensions):
        return job.extensions[step].step not in dict(job.approvals)
    return job.qc.retake_limit > job.retake


def unmatched(campaign: Campaign, globs: Iterable[str]) -> list[str]:
    """The patterns among ``globs`` that match no job name of ``campaign``."""
    names = [job.name for job in campaign.jobs]
    return [p for p in globs if not any(fnmatchcase(name, p) for name in names)]


def submission_specs(jobs: Iterable[Job]) -> list[SubmissionSpec]:
    """Every submission the jobs need (the submission graph): sources, clips, extensions."""
    return build_graph(jobs, requests=True).specs()


async def run_campaign(
    campaign: Campaign,
    rt: Runtime,
    config: RunConfig,
    stop: asyncio.Event | None = None,
    *,
    free_space: FreeSpace | None = None,
) -> RunReport:
    """Run the selected jobs of ``campaign`` to completion (or to a stop) and report.

    PreflightError: nothing was submitted. ManifestNotWrittenError carries the report.
    """
    runner = _Runner(campaign, rt, config, stop or asyncio.Event())
    return await runner.run(free_space)


class _Runner:
    def __init__(
        self, campaign: Campaign, rt: Runtime, config: RunConfig, stop: asyncio.Event
    ) -> None:
        self.campaign, self.rt, self.config, self.stop = campaign, rt, config, stop
        self.jobs = select_jobs(campaign, config.select)
        totals = rt.store.sync.totals()  # before the run starts: nothing waits on it yet
        self.pacing = Pacing.build(config, totals.spent + totals.reserved, rt.clock, rt.sleep)
        self.pacing.budget.currency = campaign.currency
        if rt.account and isinstance(self.pacing.slots, AdaptiveSlots):
            self.pacing.slots = SharedSlots(
                self.pacing.slots,
                rt.store,
                account=rt.account,
                owner=rt.owner,
                limit=config.concurrency,
                lease_seconds=config.lease_seconds,
                sleep=rt.sleep,
            )
        self.poller = Poller(
            rt.client.list_tasks,
            rt.client.fetch_task,
            interval=config.poll_interval,
            task_timeout=config.task_timeout,
            throttle=self.pacing.bucket.acquire_background,  # submissions go first
            clock=rt.clock,
            sleep=rt.sleep,
        )
        self.submitter = Submitter(rt, config, self.pacing, self.poller, stop)
        self.orders = Orders(rt, campaign, Sources(rt, self.submitter, campaign), self._started)
        self.clips = Clips(
            rt.store,
            rt.client.download,
            config.download_concurrency,
            warn=lambda text: rt.progress.event("warning", what=text),
        )
        self.checks = ClipChecker(
            rt.store,
            images=ImageCache(rt.output_dir, rt.client.download),  # start images sent by URL
            warn=lambda text: rt.progress.event("warning", what=text),
        )
        self.outcomes: dict[str, JobOutcome] = {}
        self.ended: Counter[str] = Counter()  # outcomes by status, kept as they come
        self.active: set[str] = set()  # jobs with work at the provider: sent, polled, fetched
        self.already_done = 0  # jobs that were done before this run: summed up, not listed
        self.stopped: str | None = None
        self.graph = build_graph(self.jobs, requests=True)
        self.budget_note: str | None = None
        self.manifest: Manifest | None = None  # read at the start of the run
        self.results: Reads | None = None  # the state read once at the end, for the manifest

    async def run(self, free_space: FreeSpace | None) -> RunReport:
        store = self.rt.store
        # Refuses an output folder of another campaign before anything is written.
        manifest = read_results(manifest_path(self.campaign), self.campaign.name)
        self.manifest = manifest
        await self._preflight(free_space)
        await store.declare(self.graph.specs())
        if manifest is not None:
            await store.run(restore_from_manifest, manifest, store.sync)
        await self._force()
        await self._check_budget()
        helpers = [self._spawn(self.poller.run()), self._spawn(self._renew_leases())]
        helpers.append(self._spawn(self._report_progress()))
        try:
            await self._work()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.submitter.drain()
            released = self._spawn(self._release_leases())  # beside the snapshot: no lease in it
            try:
                self.checks.close()
                remove_stale_parts(self.rt.output_dir)  # a killed run's, too young at the start
                self.results = await store.run(store.sync.snapshot)  # one read, not one a question
            finally:
                await released
            failure = await store.run(save_manifest, self.campaign, self.results)
            store.shutdown()  # its queue is empty by now
        report = self._report()
        if self.already_done:
            self.rt.progress.event("already_done", jobs=self.already_done)
        self.rt.progress.close(self._snapshot())
        if failure is not None:
            raise ManifestNotWrittenError(str(failure), report) from failure
        return report

    async def _preflight(self, free_space: FreeSpace | None) -> None:
        # Before any declaration or submission: never pay for a clip that cannot be saved.
        store, folder = self.rt.store, self.rt.output_dir
        await store.run(preflight, folder, self.jobs, store.sync, free_space=free_space)
        remove_stale_parts(folder)  # temp files of killed runs

    async def _force(self) -> None:
        # The jobs' clips are regenerated; the stills they start from are kept.
        forced = select_jobs(self.campaign, self.config.force) if self.config.force else ()
        for spec in submission_specs(job for job in forced if job in self.jobs):
            if spec.kind not in ("video", "extend"):
                continue
            sub = await self.rt.store.get(spec.key)
            if sub is not None and (sub.attempt or sub.status != Status.PENDING):
                await self.rt.store.reset(spec.key, "forced with --force")

    async def _work(self) -> None:
        if any(job.qc.enabled for job in self.jobs):
            self.checks.warm()
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in _rotated(self.jobs, self.rt.owner):
            queue.put_nowait(job)
        workers = {self._spawn(self._worker(queue)) for _ in range(self._worker_count())}
        waiter = self._spawn(self.stop.wait())
        pending: set[asyncio.Task[Any]] = set(workers)
        while pending and not waiter.done():
            _, pending = await asyncio.wait(pending | {waiter}, return_when="FIRST_COMPLETED")
            pending.discard(waiter)
        for task in [*workers, waiter]:
            task.cancel()
        for result in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(result, RunStoppedError):
                self.stopped = str(result)
            elif isinstance(result, Exception):
                raise result

    def _worker_count(self) -> int:
        # More workers than slots, so that image uploads and waits overlap with submissions.
        return max(1, min(len(self.jobs), self.config.concurrency * 2 + 2))

    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await self._job(job)
            except StateError as exc:  # e.g. the state file was removed: stop, keep the summary
                self.stop.set()
                raise RunStoppedError(str(exc)) from exc

    async def _job(self, job: Job) -> JobOutcome:
        under_way, was_done = await self._prior(job)
        if under_way:
            self._started(job)
        outcome = await self._outcome(job)
        self.active.discard(job.name)
        self.outcomes[job.name] = outcome
        self.ended[outcome.status] += 1
        if outcome.status == JobStatus.DONE and was_done:
            self.already_done += 1
        self.rt.progress.update(self._snapshot())
        if outcome.status == JobStatus.DONE:
            if not was_done:  # those are summed up in one line at the end
                self.rt.progress.event("done", job=job.name)
        elif outcome.status != JobStatus.INTERRUPTED:
            self.rt.progress.event(outcome.status, job=job.name, reason=outcome.reason)
        return outcome

    async def _outcome(self, job: Job) -> JobOutcome:
        try:
            await self._takes(job)
        except ClipsFailedError as exc:
            return JobOutcome(job.name, JobStatus.BLOCKED, str(exc))
        except JobFailedError as exc:
            if self._state_gone():  # the failure is the state file's, not the job's
                return JobOutcome(job.name, JobStatus.INTERRUPTED)
            return JobOutcome(job.name, JobStatus.FAILED, str(exc), exc.final)
        except InDoubtError as exc:
            return JobOutcome(job.name, JobStatus.IN_DOUBT, str(exc))
        except JobStuckError as exc:
            return JobOutcome(job.name, JobStatus.STUCK, str(exc))
        except BudgetError as exc:
            return JobOutcome(job.name, JobStatus.BLOCKED, str(exc))
        except (StopRequestedError, RunStoppedError, HaltedError):
            # A stop sends nothing more: the job is kept whole for a later run.
            return JobOutcome(job.name, JobStatus.INTERRUPTED)
        except (DownloadError, ProviderError) as exc:
            if exc.stops_run:
                self.submitter.halt(str(exc))
                return JobOutcome(job.name, JobStatus.INTERRUPTED)
            return JobOutcome(job.name, JobStatus.FAILED, f"job {job.name}: {exc}", False)
        return JobOutcome(job.name, JobStatus.DONE)

    async def _takes(self, job: Job) -> None:
        """The job's chain, then (qc.on_fail: retake) new takes until one passes its checks."""
        for number in range(job.qc.retake_limit + 1):
            take = retake_of(job, number)
            if number:
                await self.rt.store.declare(submission_specs([take]))
                await self.rt.store.run(restore_retake, self.manifest, take, self.rt.store.sync)
                self.rt.progress.event("retake", job=job.name, reason=f"retake {number}")
            try:
                await self._chain(take)
                return
            except ClipsFailedError:
                if number == job.qc.retake_limit:
                    raise

    async def _chain(self, job: Job) -> None:
        downloads: list[asyncio.Task[None]] = []
        holds = self.submitter.holds
        capped = self.pacing.budget.max_cost is not None  # without a cap nothing is held
        chain = await holds.open(f"job {job.name}", await self._needs(job) if capped else ())
        try:
            parent = await self.submitter.ensure(await self.orders.base(job))
            downloads.append(self._spawn(self._save(job, parent)))
            for ext in job.extensions:
                if _judged(job, ext.step - 1):
                    await self.checks.require(job, parent, downloads[-1], [ext.index])
                order = self.orders.extension(job, ext.step, parent.task_id or "")
                parent = await self.submitter.ensure(order)
                downloads.append(self._spawn(self._save(job, parent)))
            if job.qc.retake_limit > job.retake:  # a retake is due when no clip of it passed
                indexes = range(job.settings.batch_size)
                await self.checks.require(job, parent, downloads[-1], indexes, every=True)
        finally:
            await holds.close(chain)
            results = await asyncio.gather(*downloads, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _save(self, job: Job, sub: Submission) -> None:
        """Download the clips of one step of ``job`` and check them."""
        folder = self.rt.output_dir / job.output_name

        async def check(records: list[FileRecord]) -> None:
            await self.checks.check(job, sub, records, folder)

        # Another live runner made it and checks it (four runners decoding every clip held
        # the team's tail by seconds); this run checks it only to build on it.
        mine = sub.lease_owner in (None, self.rt.owner) or _judged(job, sub.step)
        await self._download(sub, folder, job.settings.batch_size, check if mine else None)

    async def _download(
        self,
        sub: Submission,
        folder: Path,
        batch: int,
        check: Callable[[list[FileRecord]], Awaitable[None]] | None,
    ) -> list[FileRecord]:
        """Download the clips of ``sub`` and ``check`` them (while their records are written);
        a clip that cannot be written stops all sending (never pay for what cannot be saved)
        and is tried again while the run drains."""
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                return await self.clips.ensure(sub, folder, batch, check)
            except CannotWriteError as exc:
                self.submitter.halt(f"clips cannot be saved: {exc}")
                if attempt == WRITE_TRIES:
                    raise DownloadError(
                        f"{exc}; the task is paid and recorded: run again once the folder "
                        "is writable, it downloads the clips without submitting"
                    ) from exc
                await self.rt.sleep(WRITE_RETRY_SECONDS)
        raise AssertionError("unreachable")

    async def _needs(
        self, job: Job, known: Mapping[str, Submission] | None = None
    ) -> list[tuple[str, float | None]]:
        """(key, price) of what ``job``'s chain still has to pay for; ``known``: the state's
        submissions by key, when already read (else each of the chain's is read)."""
        # A retake (qc) has fingerprints of its own, outside the run's graph.
        graph = self.graph if job.fingerprint in self.graph.nodes else build_graph([job])
        if known is None:
            store = self.rt.store
            got = [(key, await store.get(key)) for key in graph.needs[job.name]]
            known = {key: sub for key, sub in got if sub is not None}
        fresh = await self._fresh_uploads(job)
        return chain_needs(graph, self.campaign, job, known.get, fresh)

    async def _fresh_uploads(self, job: Job) -> set[str]:
        now, fresh = self.rt.wall(), set()
        for image in (job.image, job.end_image):
            if image is None or image.kind != "file" or image.sha256 is None:
                continue
            record = await self.rt.store.upload(image.sha256)
            if record is not None and is_fresh(record, now):
                fresh.add(upload_key(image))
        return fresh

    async def _check_budget(self) -> None:
        """Before anything is sent: say when the cap cannot pay for all the chains to run."""
        if self.pacing.budget.max_cost is None:
            return
        subs = {sub.key: sub for sub in await self.rt.store.submissions()}
        needs = {k: p for job in self.jobs for k, p in await self._needs(job, subs)}
        self.budget_note = budget_shortfall(self.pacing.budget, needs)
        if self.budget_note:
            self.rt.progress.event("budget", note=self.budget_note)

    async def _renew_leases(self) -> None:
        every = min(self.config.lease_seconds / 3, SHARE_EVERY)
        while True:
            await asyncio.sleep(every)
            lost = await self.rt.store.renew_leases(self.rt.owner, self.config.lease_seconds)
            if lost:  # another runner took them over: it finishes them (fenced writes hold)
                self.rt.progress.event("leases_lost", count=len(lost))
            await self._share_the_rate()

    async def _share_the_rate(self) -> None:
        """The request rate belongs to the account: runners with slots on it split it."""
        if not self.rt.account:
            return
        runners = max(1, await self.rt.store.slot_holders(self.rt.account))
        self.pacing.bucket.share(self.config.max_rps / runners)

    async def _report_progress(self) -> None:
        # Also checks the state file: writes to a removed or replaced one would be lost.
        while not self._state_gone():
            self.rt.progress.update(self._snapshot())
            await asyncio.sleep(PROGRESS_EVERY)

    def _started(self, job: Job) -> None:
        """The job has work at the provider now: counted in flight, shown at once."""
        if job.name not in self.active:
            self.active.add(job.name)
            self.rt.progress.update(self._snapshot())

    async def _prior(self, job: Job) -> tuple[bool, bool]:
        """How earlier runs left the job: (under way at the provider, every clip downloaded)."""
        for key in (job.fingerprint, *(ext.fingerprint for ext in job.extensions)):
            sub = await self.rt.store.get(key)
            if sub is None or sub.status != Status.DOWNLOADED:
                started = sub is not None and sub.status in _UNDER_WAY
                return started or key != job.fingerprint, False  # later steps: under way
        return False, True

    def _snapshot(self) -> Snapshot:
        """Counts that add up at every moment: done + failed + not finished + in flight +
        queued = total; a job is in flight from its first send (or a task left by an earlier
        run) until it ends, and queued before that (waiting for a slot, an upload, a still)."""
        done, failed = self.ended[JobStatus.DONE], self.ended[JobStatus.FAILED]
        ended = sum(self.ended.values())
        budget = self.pacing.budget
        return Snapshot(
            total=len(self.jobs),
            done=done,
            in_flight=len(self.active),
            failed=failed,
            spent=budget.spent,
            reserved=budget.reserved,
            queued=len(self.jobs) - ended - len(self.active),
            unfinished=ended - done - failed,
            already_done=self.already_done,
            currency=self.campaign.currency,
        )

    async def _release_leases(self) -> None:
        try:
            await self.rt.store.release_all(self.rt.owner)
        except StateError:
            # A state file that is gone has no leases left to give back: report, don't crash.
            if not self._state_gone():
                raise

    def _state_gone(self) -> bool:
        """True (and the run marked stopped) when the state file was removed or replaced."""
        try:
            self.rt.store.check_file()
        except StateError as exc:
            self.stopped = self.stopped or str(exc)
            self.stop.set()
            return True
        return False

    def _report(self) -> RunReport:
        outcomes = tuple(
            self.outcomes.get(job.name, JobOutcome(job.name, JobStatus.INTERRUPTED))
            for job in self.jobs
        )
        return RunReport(
            outcomes=outcomes,
            submitted=self.submitter.submitted,
            downloaded=self.clips.downloaded,
            spent=self.pacing.budget.spent,
            spent_this_run=self.pacing.budget.spent_this_run,
            interrupted=self.stop.is_set() and self.stopped is None,
            stopped=self.stopped or self.submitter.halted,
            resent_in_doubt=tuple(sorted(set(self.submitter.resent_in_doubt))),
            budget_note=self.budget_note,
            unpriced=self.submitter.unpriced,
            results=self.results,
        )

    @staticmethod
    def _spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return asyncio.ensure_future(coro)
