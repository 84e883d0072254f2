//! A state backend in Redis (Storm's `RedisKeyValueStateProvider`): a task's state is
//! reachable from any host, so it follows the task when a rebalance or a lost supervisor
//! moves it. Per namespace, three hashes under `squall:state:<topology>:<namespace>`:
//! the committed entries (the key itself), `:prepared` (the set PREPARE wrote aside, each
//! value prefixed by 1 for a put or 0 for a delete) and `:meta` (`committed_txid`,
//! `prepared_txid`). PREPARE is one MULTI/EXEC and COMMIT one script, so a crash at any point
//! leaves either the old or the new state, never a mix.

use std::sync::Arc;

use squall_topology_api::state::{
    Change, Loaded, SharedBackend, StateBackend, StateError, StateStore,
};

use super::connect;

/// Applies the prepared set if it is `txid`'s, then records `txid` as committed.
const COMMIT_SCRIPT: &str = r"
local p = redis.call('HGET', KEYS[1], 'prepared_txid')
if p == ARGV[1] then
  local entries = redis.call('HGETALL', KEYS[2])
  for i = 1, #entries, 2 do
    local v = entries[i + 1]
    if string.sub(v, 1, 1) == '\1' then
      redis.call('HSET', KEYS[3], entries[i], string.sub(v, 2))
    else
      redis.call('HDEL', KEYS[3], entries[i])
    end
  end
  redis.call('DEL', KEYS[2])
  redis.call('HDEL', KEYS[1], 'prepared_txid')
end
local c = redis.call('HGET', KEYS[1], 'committed_txid')
if (not c) or tonumber(c) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'committed_txid', ARGV[1])
end
return 1
";

/// Keeps state in the Redis server at `url`.
///
/// Register it with the topology, then choose it in the configuration:
///
/// # Examples
/// ```
/// use squall_connectors::redis::RedisStateBackend;
/// use squall_topology_api::{Config, TopologyBuilder};
/// use squall_topology_api::state::{TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG};
/// let mut b = TopologyBuilder::new();
/// b.state_backend("redis", RedisStateBackend::from_config);
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_STATE_PROVIDER, "redis");
/// conf.set(TOPOLOGY_STATE_PROVIDER_CONFIG, r#"{"url": "redis://127.0.0.1:6379"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct RedisStateBackend {
    url: String,
}

impl RedisStateBackend {
    /// A backend on the server at `url` (`redis://host:port[/db]`).
    ///
    /// # Examples
    /// ```
    /// use squall_connectors::redis::RedisStateBackend;
    /// let backend = RedisStateBackend::new("redis://10.0.0.5:6379");
    /// assert_eq!(backend.url(), "redis://10.0.0.5:6379");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        RedisStateBackend { url: url.into() }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend `topology.state.provider.config` describes: `{"url": "redis://..."}`, or
    /// Storm's `{"jedisPoolConfig": {"host": ..., "port": ..., "database": ...}}`.
    ///
    /// # Errors
    /// When neither form is there.
    pub fn from_config(config: &serde_json::Value) -> Result<SharedBackend, StateError> {
        if let Some(url) = config.get("url").and_then(|u| u.as_str()) {
            return Ok(Arc::new(RedisStateBackend::new(url)));
        }
        if let Some(pool) = config.get("jedisPoolConfig") {
            let host = pool
                .get("host")
                .and_then(|h| h.as_str())
                .unwrap_or("127.0.0.1");
            let port = pool.get("port").and_then(|p| p.as_u64()).unwrap_or(6379);
            let db = pool.get("database").and_then(|d| d.as_u64()).unwrap_or(0);
            return Ok(Arc::new(RedisStateBackend::new(format!(
                "redis://{host}:{port}/{db}"
            ))));
        }
        Err(StateError::new(
            "the redis backend needs a server: set topology.state.provider.config to {\"url\": \"redis://HOST:PORT\"}",
        ))
    }
}

impl StateBackend for RedisStateBackend {
    fn open(&self, topology: &str, namespace: &str) -> Result<Box<dyn StateStore>, StateError> {
        let key = format!("squall:state:{topology}:{namespace}");
        let mut store = RedisStore {
            url: self.url.clone(),
            conn: None,
            prepared: format!("{key}:prepared"),
            meta: format!("{key}:meta"),
            committed: key,
        };
        store.conn()?; // a server that is down is an error now, not at the first checkpoint
        Ok(Box::new(store))
    }
}

struct RedisStore {
    url: String,
    /// Dropped after an error, so the next call connects afresh.
    conn: Option<redis::Connection>,
    committed: String,
    prepared: String,
    meta: String,
}

impl RedisStore {
    fn conn(&mut self) -> Result<&mut redis::Connection, StateError> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.url).map_err(StateError::new)?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StateError::new("no connection"))
    }

    /// Runs `f` on the connection, dropping the connection if it fails.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection, &Self) -> redis::RedisResult<T>,
    ) -> Result<T, StateError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url).map_err(StateError::new)?,
        };
        match f(&mut conn, self) {
            Ok(v) => {
                self.conn = Some(conn);
                Ok(v)
            }
            Err(e) => Err(StateError::new(format!("redis at {}: {e}", self.url))),
        }
    }
}

impl StateStore for RedisStore {
    fn load(&mut self) -> Result<Loaded, StateError> {
        type Entries = Vec<(Vec<u8>, Vec<u8>)>;
        let (entries, txid): (Entries, Option<i64>) = self.run(|c, s| {
            redis::pipe()
                .atomic()
                .hgetall(&s.committed)
                .hget(&s.meta, "committed_txid")
                .query(c)
        })?;
        Ok(Loaded {
            committed_txid: txid,
            entries,
        })
    }

    fn prepare(&mut self, txid: i64, changes: &[Change]) -> Result<(), StateError> {
        self.run(|c, s| {
            let mut pipe = redis::pipe();
            pipe.atomic().del(&s.prepared).ignore();
            if !changes.is_empty() {
                let fields: Vec<(&[u8], Vec<u8>)> = changes
                    .iter()
                    .map(|(k, v)| {
                        let mut value = Vec::with_capacity(1 + v.as_ref().map_or(0, Vec::len));
                        match v {
                            Some(v) => {
                                value.push(1);
                                value.extend_from_slice(v);
                            }
                            None => value.push(0),
                        }
                        (k.as_slice(), value)
                    })
                    .collect();
                pipe.hset_multiple(&s.prepared, &fields).ignore();
            }
            pipe.hset(&s.meta, "prepared_txid", txid).ignore();
            pipe.query::<()>(c)
        })
    }

    fn commit(&mut self, txid: i64) -> Result<(), StateError> {
        self.run(|c, s| {
            redis::Script::new(COMMIT_SCRIPT)
                .key(&s.meta)
                .key(&s.prepared)
                .key(&s.committed)
                .arg(txid)
                .invoke::<i64>(c)
                .map(drop)
        })
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.run(|c, s| {
            redis::pipe()
                .atomic()
                .del(&s.prepared)
                .ignore()
                .hdel(&s.meta, "prepared_txid")
                .ignore()
                .query::<()>(c)
        })
    }
}
