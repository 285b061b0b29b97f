"""The operator's memory footprint: what `run` imports and glibc's settings (runtime/memory.py).

Each case runs in a fresh interpreter: imports and allocator settings are per process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    return done.stdout.strip()


def test_run_does_not_import_what_only_some_clusters_need() -> None:
    """Public-holiday calendars, the OCI client and cryptography cost about 20 MiB together; they are
    imported when an agreement names a calendar or a matrix source needs them, not at start."""
    loaded = json.loads(
        run_python(
            "import json, sys\n"
            "import kopf\n"
            "from eligibility_operator import cli\n"
            "from eligibility_operator.runtime.app import run_operator\n"
            "from eligibility_operator.runtime.kube.api import KubeClient\n"
            "from eligibility_operator.runtime.leadership import default_identity\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
        )
    )
    assert not {"holidays", "oras", "jsonschema", "cryptography"} & set(loaded)


def test_the_webhook_parser_process_imports_no_client_library() -> None:
    """The webhook's parser process (multiprocessing's spawn) imports the command line's main module
    again and the review reader: neither may load Kopf, the kubernetes package, aiohttp or pydantic.
    One import of Kopf through the Lease module once made that process 60 MiB instead of 24 MiB, in
    every replica (docs/performance.md, "In a pod")."""
    loaded = json.loads(
        run_python(
            "import json, sys\n"
            "from eligibility_operator import cli\n"
            "from eligibility_operator.core.admission.reviews import read_review\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
        )
    )
    assert not {"kopf", "kubernetes", "aiohttp", "pydantic", "yaml"} & set(loaded)


def test_the_operators_requests_load_no_generated_api_class() -> None:
    """The ``kubernetes`` package's generated API classes cost memory (``CoreV1Api`` alone 20 MiB); the
    ConfigMap store, the Lease and the rest send raw requests over the operator's one aiohttp session."""
    loaded = run_python(
        "import asyncio, ssl, sys\n"
        "from eligibility_operator.runtime.controllers.matrix_store import ConfigMapStore\n"
        "from eligibility_operator.runtime.kube.api import KubeClient, KubeRequests\n"
        "from eligibility_operator.runtime.kube.connection import ApiSession, Connection\n"
        "from eligibility_operator.runtime.kube.lease import KubeLeaseStore\n"
        "from eligibility_operator.runtime.leadership import AlwaysLeader\n"
        "from eligibility_operator.runtime import scan\n"
        "from eligibility_operator.runtime.serving.certs import SecretCerts\n"
        "async def main():\n"
        "    login = lambda: Connection('http://127.0.0.1:1', ssl.create_default_context(), {})\n"
        "    kube = KubeClient(KubeRequests(ApiSession(login)))\n"
        "    ConfigMapStore(kube, 'eligibility-operator', AlwaysLeader())\n"
        "    KubeLeaseStore(kube, 'eligibility-operator')\n"
        "    SecretCerts(kube, AlwaysLeader(), 'ns', 'tls', ['h'], None)\n"
        "    await kube.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('kubernetes.client.api.')))"
    )
    assert loaded == "[]"


def test_lazily_imported_parts_still_work() -> None:
    from eligibility_operator.core.base.business_calendar import check_calendar
    from eligibility_operator.matrix_source import generate_key, sign, verify

    assert check_calendar("Europe/Berlin", "DE-BY") == []
    assert check_calendar("Europe/Berlin", "XX")  # an unknown country is a problem, not a crash
    private, public = generate_key()
    document = b"kind: CompatibilityMatrix\n"
    assert verify(document, public_key=public, signature=sign(document, private)).startswith("sha256:")


@glibc
def test_arenas_are_capped_unless_the_environment_says_otherwise() -> None:
    code = "from eligibility_operator.runtime.memory import limit_arenas\nprint(limit_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert run_python(code, env) == "True"
    assert run_python(code, {**env, "MALLOC_ARENA_MAX": "4"}) == "False"


@glibc
def test_threads_share_the_capped_arenas() -> None:
    """Eight threads that each allocate: with the cap, at most 2 arenas (the main one and one more)."""
    code = (
        "import ctypes, re, tempfile, threading\n"
        "from eligibility_operator.runtime.memory import limit_arenas\n"
        "limit_arenas()\n"
        "barrier = threading.Barrier(8)\n"
        "def work():\n"
        "    barrier.wait()\n"
        "    kept = [bytearray(4096) for _ in range(2000)]\n"
        "    barrier.wait()\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.fopen.restype = ctypes.c_void_p\n"
        "out = tempfile.NamedTemporaryFile(suffix='.xml')\n"
        "f = ctypes.c_void_p(libc.fopen(out.name.encode(), b'w'))\n"
        "libc.malloc_info(0, f); libc.fclose(f)\n"
        "print(len(re.findall('<heap nr=', open(out.name).read())))"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert int(run_python(code, env)) <= 2


MMAPPED_AFTER_REUSE = (
    "import ctypes, sys\n"
    "from eligibility_operator.runtime.memory import fix_mmap_threshold\n"
    "if sys.argv[-1] == 'fixed': fix_mmap_threshold()\n"
    "class Info(ctypes.Structure):\n"
    "    _fields_ = [(n, ctypes.c_size_t) for n in"
    " 'arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split()]\n"
    "libc = ctypes.CDLL('libc.so.6'); libc.malloc.restype = ctypes.c_void_p; libc.mallinfo2.restype = Info\n"
    "libc.free(ctypes.c_void_p(libc.malloc(4 << 20)))\n"
    "block = libc.malloc(4 << 20)\n"
    "print(libc.mallinfo2().hblkhd >= 4 << 20)"
)


@glibc
@pytest.mark.parametrize(("mode", "mapped"), [("default", "False"), ("fixed", "True")])
def test_large_blocks_stay_in_their_own_mappings(mode: str, mapped: str) -> None:
    """A 4 MiB block freed: glibc's default then serves the next one from the heap (where it leaves a
    hole when freed); with the fixed threshold it is a mapping again, returned to the system on free."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", MMAPPED_AFTER_REUSE, mode], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == mapped
