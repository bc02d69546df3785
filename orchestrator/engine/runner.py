"""Run a campaign: declare submissions, drive each job's chain, download, write the manifest."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from orchestrator.client import ExtendRequest, VideoRequest
from orchestrator.engine.clips import Clips
from orchestrator.engine.context import JobOutcome, Pacing, RunConfig, RunReport, Runtime
from orchestrator.engine.manifest import (
    build_manifest,
    manifest_path,
    read_manifest,
    restore_from_manifest,
    write_manifest,
)
from orchestrator.engine.poller import Poller
from orchestrator.engine.progress import Snapshot
from orchestrator.engine.sources import Sources, source_specs
from orchestrator.engine.submission import (
    InDoubtError,
    JobFailedError,
    Order,
    RunStoppedError,
    StopRequestedError,
    Submitter,
)
from orchestrator.errors import BudgetError, DownloadError, ProviderError
from orchestrator.model import Campaign, Job, chain
from orchestrator.state import SubmissionSpec

PROGRESS_EVERY = 0.5
T = TypeVar("T")


def select_jobs(campaign: Campaign, globs: Iterable[str]) -> tuple[Job, ...]:
    """Jobs whose name matches any of ``globs`` (all jobs when there are none)."""
    patterns = tuple(globs)
    if not patterns:
        return campaign.jobs
    return tuple(job for job in campaign.jobs if any(fnmatchcase(job.name, p) for p in patterns))


def submission_specs(jobs: Iterable[Job]) -> list[SubmissionSpec]:
    """Every submission the jobs need: imagine chains, base clips and extension steps."""
    jobs = tuple(jobs)
    images = [job.image for job in jobs] + [job.end_image for job in jobs if job.end_image]
    specs = source_specs(images)
    for job in jobs:
        parent: str | None = None
        for step, key, *_ in chain(job):
            kind = "video" if step == 0 else "extend"
            specs.append(SubmissionSpec(key, job.name, kind, step, parent))
            parent = key
    return specs


async def run_campaign(
    campaign: Campaign, rt: Runtime, config: RunConfig, stop: asyncio.Event | None = None
) -> RunReport:
    """Run the selected jobs of ``campaign`` to completion (or to a stop) and report."""
    runner = _Runner(campaign, rt, config, stop or asyncio.Event())
    return await runner.run()


class _Runner:
    def __init__(
        self, campaign: Campaign, rt: Runtime, config: RunConfig, stop: asyncio.Event
    ) -> None:
        self.campaign, self.rt, self.config, self.stop = campaign, rt, config, stop
        self.jobs = select_jobs(campaign, config.select)
        totals = rt.store.totals()
        self.pacing = Pacing.build(config, totals.spent + totals.reserved, rt.clock)
        self.poller = Poller(
            rt.client.list_tasks,
            rt.client.fetch_task,
            interval=config.poll_interval,
            task_timeout=config.task_timeout,
            throttle=self.pacing.bucket.acquire_background,  # submissions go first
            clock=rt.clock,
        )
        self.submitter = Submitter(rt, config, self.pacing, self.poller, stop)
        self.sources = Sources(rt, self.pacing, self.submitter, campaign.price("imagine"))
        self.clips = Clips(rt.store, rt.client.download, config.download_concurrency)
        self.outcomes: dict[str, JobOutcome] = {}
        self.ended: Counter[str] = Counter()  # outcomes by status, kept as they come
        self.stopped: str | None = None

    async def run(self) -> RunReport:
        store = self.rt.store
        store.declare(submission_specs(self.jobs))
        manifest = read_manifest(manifest_path(self.campaign))
        if manifest is not None:
            restore_from_manifest(manifest, store)
        self._force()
        helpers = [self._spawn(self.poller.run()), self._spawn(self._renew_leases())]
        helpers.append(self._spawn(self._report_progress()))
        try:
            await self._work()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.submitter.drain()
            self._release_leases()
            write_manifest(manifest_path(self.campaign), build_manifest(self.campaign, store))
        report = self._report()
        self.rt.progress.close(self._snapshot())
        return report

    def _force(self) -> None:
        # The jobs' clips are regenerated; the stills they start from are kept.
        forced = select_jobs(self.campaign, self.config.force) if self.config.force else ()
        for spec in submission_specs(job for job in forced if job in self.jobs):
            if spec.kind not in ("video", "extend"):
                continue
            sub = self.rt.store.get(spec.key)
            if sub is not None and (sub.attempt or sub.status != "pending"):
                self.rt.store.reset(spec.key, "forced with --force")

    async def _work(self) -> None:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in self.jobs:
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
            except RunStoppedError:
                self.stop.set()
                raise

    async def _job(self, job: Job) -> JobOutcome:
        outcome = await self._outcome(job)
        self.outcomes[job.name] = outcome
        self.ended[outcome.status] += 1
        self.rt.progress.update(self._snapshot())
        if outcome.status == "done":
            self.rt.progress.event("done", job=job.name)
        elif outcome.status != "interrupted":
            self.rt.progress.event(outcome.status, job=job.name, reason=outcome.reason)
        return outcome

    async def _outcome(self, job: Job) -> JobOutcome:
        try:
            await self._chain(job)
        except JobFailedError as exc:
            return JobOutcome(job.name, "failed", str(exc), exc.final)
        except InDoubtError as exc:
            return JobOutcome(job.name, "in_doubt", str(exc))
        except BudgetError as exc:
            return JobOutcome(job.name, "blocked", str(exc))
        except StopRequestedError:
            return JobOutcome(job.name, "interrupted")
        except (DownloadError, ProviderError) as exc:
            if getattr(exc, "stops_run", False):
                raise RunStoppedError(str(exc)) from exc
            return JobOutcome(job.name, "failed", f"job {job.name}: {exc}", False)
        return JobOutcome(job.name, "done")

    async def _chain(self, job: Job) -> None:
        folder = self.rt.output_dir / job.output_name
        downloads: list[asyncio.Task[None]] = []
        try:
            parent = await self.submitter.ensure(await self._base_order(job))
            downloads.append(self._spawn(self.clips.ensure(parent, folder)))
            for ext in job.extensions:
                parent_task = parent.task_id or ""
                request = ExtendRequest(parent_task, ext.index, ext.motion, ext.prompt)
                order = Order(
                    key=ext.fingerprint,
                    what=f"job {job.name}, extension {ext.step}",
                    price=self.campaign.price(job.settings.mode),
                    send=self._extend_sender(request),
                    modal_prompt=ext.prompt or "",
                )
                parent = await self.submitter.ensure(order)
                downloads.append(self._spawn(self.clips.ensure(parent, folder)))
        finally:
            results = await asyncio.gather(*downloads, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _base_order(self, job: Job) -> Order:
        sub = self.rt.store.get(job.fingerprint)
        needs_send = sub is None or sub.status in ("pending", "submitting", "failed")
        image = await self.sources.url(job.image) if needs_send else ""
        end = await self.sources.url(job.end_image) if needs_send and job.end_image else None
        request = VideoRequest(image, job.prompt, job.settings, end)
        return Order(
            key=job.fingerprint,
            what=f"job {job.name}",
            price=self.campaign.price(job.settings.mode),
            send=self._video_sender(request),
            modal_prompt=job.prompt or "",
        )

    def _video_sender(self, request: VideoRequest) -> Callable[[str], Awaitable[str]]:
        return lambda state: self.rt.client.create_video(replace(request, state=state))

    def _extend_sender(self, request: ExtendRequest) -> Callable[[str], Awaitable[str]]:
        return lambda state: self.rt.client.extend_video(replace(request, state=state))

    async def _renew_leases(self) -> None:
        every = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            self.rt.store.renew_leases(self.rt.owner, self.config.lease_seconds)

    async def _report_progress(self) -> None:
        while True:
            self.rt.progress.update(self._snapshot())
            await asyncio.sleep(PROGRESS_EVERY)

    def _snapshot(self) -> Snapshot:
        done, failed = self.ended["done"], self.ended["failed"]
        budget = self.pacing.budget
        return Snapshot(
            len(self.jobs), done, self.poller.watched, failed, budget.spent, budget.reserved
        )

    def _release_leases(self) -> None:
        self.rt.store.release_all(self.rt.owner)

    def _report(self) -> RunReport:
        outcomes = tuple(
            self.outcomes.get(job.name, JobOutcome(job.name, "interrupted")) for job in self.jobs
        )
        return RunReport(
            outcomes=outcomes,
            submitted=self.submitter.submitted,
            downloaded=self.clips.downloaded,
            spent=self.pacing.budget.spent,
            interrupted=self.stop.is_set() and self.stopped is None,
            stopped=self.stopped,
            resent_in_doubt=tuple(sorted(set(self.submitter.resent_in_doubt))),
        )

    @staticmethod
    def _spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        return asyncio.ensure_future(coro)
