//! The Redis state backend against a real `redis-server`: PREPARE is durable, COMMIT applies
//! it (also from a new connection after a crash in between), ROLLBACK drops it, and a repeated
//! COMMIT changes nothing.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use squall_connectors::redis::RedisStateBackend;
use squall_tests::redis_server::RedisServer;
use squall_worker::state::{StateBackend, TOPOLOGY_STATE_PROVIDER_CONFIG};

fn put(k: &str, v: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))
}

#[test]
fn prepare_commit_and_rollback_keep_the_committed_state_whole() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let backend = RedisStateBackend::new(&redis.url);
    {
        let mut s = backend.open("t", "count-3").unwrap();
        s.prepare(0, &[put("a", "1"), put("b", "2")]).unwrap();
        assert!(
            s.load().unwrap().entries.is_empty(),
            "prepared is not committed"
        );
        s.commit(0).unwrap();
        s.prepare(1, &[(b"a".to_vec(), None), put("c", "3")])
            .unwrap();
    } // the task dies between PREPARE and COMMIT
    let mut s = backend.open("t", "count-3").unwrap();
    assert_eq!(s.load().unwrap().committed_txid, Some(0));
    s.commit(1).unwrap();
    s.commit(1).unwrap(); // a repeated COMMIT
    let mut loaded = s.load().unwrap();
    loaded.entries.sort();
    assert_eq!(loaded.committed_txid, Some(1));
    assert_eq!(
        loaded.entries,
        [
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    s.prepare(2, &[put("b", "20")]).unwrap();
    s.rollback().unwrap();
    s.commit(2).unwrap();
    let hash: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("squall:state:t:count-3")
        .query(&mut redis.conn())
        .unwrap();
    assert!(hash.contains(&("b".into(), "2".into())), "{hash:?}");
}

#[test]
fn a_server_that_is_down_or_unnamed_is_one_clear_line() {
    let e = RedisStateBackend::from_config(&serde_json::json!({}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(TOPOLOGY_STATE_PROVIDER_CONFIG), "{e}");
    let storm = RedisStateBackend::from_config(&serde_json::json!({
        "jedisPoolConfig": {"host": "127.0.0.1", "port": 1}
    }))
    .unwrap();
    let e = storm.open("t", "n").err().unwrap().to_string();
    assert!(
        e.starts_with("state backend: redis at") || e.contains("127.0.0.1:1"),
        "{e}"
    );
    assert!(!e.contains('\n'));
}
