"""The stop: waits wake on it, calls stalled on a silent server are cut, the grace is kept."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from clipbot.config import Secret
from clipbot.inflight import Busy, ListenerPool
from clipbot.rhombus import RhombusAuth, RhombusClient, RhombusUnavailable
from clipbot.stopping import RateLimitRetry, Stop, Stopped, UntilStop
from tests.fakes.rhombus import API_KEY, FakeRhombus
from tests.fakes.server import Reply
from tests.fakes.slack import BOT_TOKEN, FakeSlack


def later(seconds: float, action: object) -> threading.Timer:
    timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
    timer.start()
    return timer


def rhombus_client(rhombus: FakeRhombus, stop: Stop) -> RhombusClient:
    http = httpx.Client(timeout=httpx.Timeout(60.0), transport=stop.transport())
    return RhombusClient(
        http, RhombusAuth(Secret(API_KEY)), rhombus.api_url, rhombus.media_url, sleep=stop.sleep
    )


class TestStop:
    def test_wait_wakes_on_set(self) -> None:
        """A long wait returns True as soon as the stop is set."""
        stop = Stop()
        later(0.05, stop.set)
        assert stop.wait(60) is True
        assert stop.remaining() <= stop.grace_s

    def test_silent_rhombus_call_is_cut(self, rhombus: FakeRhombus) -> None:
        """A Rhombus call stalled on a server that never answers is cut once the stop's cut time
        comes, and ends with Stopped without waiting out its 60 s timeout or retrying."""
        rhombus.silent = True
        stop = Stop(cut_after_s=0.2)
        with rhombus_client(rhombus, stop) as client:
            later(0.3, stop.set)
            with pytest.raises(Stopped):
                client.call("event/getSavedClipsV2", {"maxPageSize": 1})
        assert len(rhombus.calls("getSavedClipsV2")) == 1

    def test_retry_after_wakes_on_stop(self, rhombus: FakeRhombus) -> None:
        """Waiting out Rhombus's Retry-After: 600 is a wait on the stop: the call ends there."""
        rhombus.fail("getSavedClipsV2", Reply.json({}, 429, **{"Retry-After": "600"}))
        stop = Stop()
        later(0.3, stop.set)
        with rhombus_client(rhombus, stop) as client, pytest.raises(Stopped):
            client.call("event/getSavedClipsV2", {})
        assert len(rhombus.calls("getSavedClipsV2")) == 1

    def test_without_stop_the_client_still_retries(self, rhombus: FakeRhombus) -> None:
        """The stop changes nothing until it is set: failures are retried as before."""
        rhombus.fail("getSavedClipsV2", *[Reply.json({}, 503)] * 4)
        stop = Stop()
        client = RhombusClient(
            httpx.Client(transport=stop.transport()),
            RhombusAuth(Secret(API_KEY)),
            rhombus.api_url,
            rhombus.media_url,
            sleep=lambda s: None,
        )
        with client, pytest.raises(RhombusUnavailable):
            client.call("event/getSavedClipsV2", {})
        assert len(rhombus.calls("getSavedClipsV2")) == 4

    def test_watchdog_ends_the_process_after_the_grace(self) -> None:
        """If the work is not done within the grace after the stop, the watchdog exits with 1."""
        exits: list[int] = []
        stop = Stop(grace_s=0.1)
        stop.watchdog(threading.Event(), exit=exits.append)
        stop.set()
        time.sleep(0.5)
        assert exits == [1]

    def test_watchdog_stays_quiet_when_done(self) -> None:
        """Work finished within the grace: the watchdog does nothing."""
        exits: list[int] = []
        stop, done = Stop(grace_s=0.2), threading.Event()
        stop.watchdog(done, exit=exits.append)
        stop.set()
        done.set()
        time.sleep(0.4)
        assert exits == []


class TestSlackRetryAfter:
    def test_retry_after_wait_wakes_on_stop(self, slack: FakeSlack) -> None:
        """A 429 with Retry-After: 600 is waited on the stop; stopping ends the wait and the
        call fails as rate limited instead of trying again."""
        slack.fail(
            "chat.postMessage",
            Reply.json({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "600"}),
        )
        stop = Stop()
        web = WebClient(
            token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[RateLimitRetry(stop)]
        )
        later(0.3, stop.set)
        with pytest.raises(SlackApiError) as caught:
            web.chat_postMessage(channel="C1", text="hi")
        assert caught.value.response["error"] == "ratelimited"
        assert len(slack.called("chat.postMessage")) == 1

    def test_connection_retry_backoff_wakes_on_stop(self) -> None:
        """A connection retry's backoff (here 600 s) is waited on the stop: stopping ends it and
        the call fails at once instead of trying again."""
        inner = ConnectionErrorRetryHandler(
            max_retry_count=3, interval_calculator=FixedValueRetryIntervalCalculator(600)
        )
        stop = Stop()
        web = WebClient(
            token=BOT_TOKEN,
            base_url="http://127.0.0.1:9/api/",
            retry_handlers=[UntilStop(inner, stop)],
        )
        errors: list[Exception] = []

        def call() -> None:
            try:
                web.conversations_history(channel="C1")
            except Exception as exc:
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        later(0.3, stop.set)
        caller.join(timeout=10)
        assert not caller.is_alive()
        assert [type(e).__name__ for e in errors] == ["URLError"]

    def test_quick_calls_finish_after_the_stop(self, rhombus: FakeRhombus) -> None:
        """Until the cut, a call in flight (a listener's, say) still gets its answer."""
        slow = Reply.json({"savedClips": []})
        slow.delay = 0.5
        rhombus.fail("getSavedClipsV2", slow)
        stop = Stop(cut_after_s=30)
        with rhombus_client(rhombus, stop) as client:
            later(0.1, stop.set)
            assert client.call("event/getSavedClipsV2", {"maxPageSize": 1}) == {"savedClips": []}
        assert stop.is_set()


class TestBusy:
    def test_listener_pool_counts_running_listeners(self) -> None:
        """A stop waits for listeners still running, and knows when they are done."""
        busy = Busy()
        release = threading.Event()
        pool = ListenerPool(busy, max_workers=2)
        future = pool.submit(release.wait, 5)
        assert busy.wait_idle(0.1) is False
        release.set()
        assert busy.wait_idle(5) is True
        assert future.result() is True
        pool.shutdown()
