"""The standby's /metrics: its own series with the leader's per-object families."""

from __future__ import annotations

from autopilot.observability.leader_view import LeaderView, merge, published_url
from autopilot.observability.metrics import Metrics
from autopilot.web import metrics_app, serve


def _leader() -> Metrics:
    m = Metrics()
    m.compliance_status.labels("Service", "svc", "ns").set(0)
    m.thrashing_total.labels("Service", "svc", "ns").inc()
    m.set_leader(True)
    return m


def test_merge_takes_only_the_leader_families() -> None:
    standby, leader = Metrics(), _leader()
    standby.api_requests_total.labels(verb="GET", code="200").inc(7)
    merged = merge(standby.exposition().decode(), leader.exposition().decode())
    lines = merged.splitlines()
    assert 'virt_platform_compliance_status{kind="Service",name="svc",namespace="ns"} 0' in lines
    assert 'virt_platform_thrashing_total{kind="Service",name="svc",namespace="ns"} 1' in lines
    # The standby's own process series stay its own.
    assert "virt_platform_leader_status 0" in lines
    assert 'virt_platform_api_requests_total{verb="GET",code="200"} 7' in lines
    assert len([n for n in lines if n.startswith("# HELP ")]) == \
        len([n for n in standby.exposition().decode().splitlines() if n.startswith("# HELP ")])


def test_published_url() -> None:
    assert published_url(port=8080, bind_host="", environ={"POD_IP": "10.1.2.3"}) \
        == "http://10.1.2.3:8080/metrics/replica"
    assert published_url(port=8080, bind_host="", environ={"POD_IP": "fd00::5"}) \
        == "http://[fd00::5]:8080/metrics/replica"
    assert published_url(port=9, bind_host="0.0.0.0", environ={}) \
        == "http://127.0.0.1:9/metrics/replica"


async def test_a_standby_serves_the_leaders_series_or_says_why_not() -> None:
    leader = await serve(metrics_app(_leader()), ("127.0.0.1", 0))
    url: list[str | None] = [f"http://127.0.0.1:{leader.port}/metrics/replica"]
    view = LeaderView(metrics=Metrics(), leader_url=lambda: url[0], timeout=2.0)
    try:
        text = (await view.exposition()).decode()
        assert 'virt_platform_compliance_status{kind="Service",name="svc",namespace="ns"} 0' \
            in text.splitlines()
        await leader.close()
        text = (await view.exposition()).decode()
        assert "compliance_status{" not in text
        assert text.splitlines()[-1].startswith(
            "# the leader's per-object series are unavailable (http://127.0.0.1:")
        url[0] = "http://127.0.0.1:1/elsewhere"
        assert (await view.exposition()).decode().splitlines()[-1].startswith(
            "# the leader published no usable address")
        url[0] = None  # leading, or no leader: its own series only
        assert await view.exposition() == view.metrics.exposition()
    finally:
        await view.close()
