import os

from hypothesis import HealthCheck, settings

# CI: bounded and derandomized. Locally: HYPOTHESIS_PROFILE=long for more.
settings.register_profile(
    "ci", max_examples=150, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    # pytest-run-parallel's marker, known also when it is not installed.
    config.addinivalue_line(
        "markers", "thread_unsafe: run in one thread under pytest-run-parallel")
    # coverage/run.sh leaves these out: coverage.py's tracer allocates, and
    # stops tracing for good when an allocation fails under it.
    config.addinivalue_line(
        "markers", "nomemory: makes the interpreter's allocations fail (_testcapi.set_nomemory)")
