"""One Keyhouse shared by many threads, with the GIL released around the work."""

import threading

import keyhouse
from keyhouse import Outcome

THREADS = 8
ROUNDS = 250
CREDITS = 600


def test_eight_threads_verify_and_create_at_once(db_path):
    with keyhouse.Keyhouse(db_path) as kh:
        plain = kh.create().key
        quota = kh.create(remaining=CREDITS).key
        counts = {"valid": 0, "exceeded": 0, "created": 0}
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def work(t):
            start.wait()
            valid = exceeded = created = 0
            for i in range(ROUNDS):
                assert kh.verify(plain).outcome is Outcome.VALID
                outcome = kh.verify(quota).outcome
                if outcome is Outcome.VALID:
                    valid += 1
                else:
                    assert outcome is Outcome.USAGE_EXCEEDED
                    exceeded += 1
                if i % 25 == 0:
                    kh.create(owner_id=f"thread-{t}")
                    created += 1
            with lock:
                counts["valid"] += valid
                counts["exceeded"] += exceeded
                counts["created"] += created

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert counts["valid"] == CREDITS
        assert counts["exceeded"] == THREADS * ROUNDS - CREDITS
        assert counts["created"] == THREADS * (ROUNDS // 25)
        assert kh.get(keyhouse.parse(plain).id).usage_count == THREADS * ROUNDS
        assert kh.get(keyhouse.parse(quota).id).remaining == 0
        assert len(kh.list(limit=1000)) == 2 + counts["created"]
