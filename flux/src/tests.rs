use super::*;

const WORD_COUNT: &str = r#"
name: "word-count"
config:
  topology.workers: 2
  topology.max.spout.pending: 500
spouts:
  - id: "sentences"
    className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
    constructorArgs:
      - ["python3", "sentences.py"]
      - ["sentence"]
    parallelism: 1
bolts:
  - id: "split"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs:
      - ["python3", "splitsentence.py"]
      - ["word"]
    parallelism: 2
    configMethods:
      - name: "addComponentConfig"
        args: ["split.lower", true]
  - id: "count"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs:
      - ["python3", "wordcount.py"]
      - ["word", "count"]
    parallelism: 2
streams:
  - name: "sentences --> split"
    from: "sentences"
    to: "split"
    grouping:
      type: SHUFFLE
  - name: "split --> count"
    from: "split"
    to: "count"
    grouping:
      type: FIELDS
      args: ["word"]
"#;

fn error(yaml: &str) -> String {
    match parse(yaml, Path::new("/resources")) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e,
    }
}

#[test]
fn a_storm_flux_word_count_builds_with_its_groupings_config_and_resources() {
    let flux = parse(WORD_COUNT, Path::new("/srv/wc")).unwrap();
    assert_eq!(flux.name.as_deref(), Some("word-count"));
    let spec = flux.topology.spec();
    assert_eq!(spec.resources.as_deref(), Some("/srv/wc"));
    let ids: Vec<_> = spec.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["sentences", "split", "count"]);
    let count = spec.component("count").unwrap();
    assert_eq!(count.parallelism, 2);
    assert_eq!(count.inputs[0].component, "split");
    assert_eq!(
        count.inputs[0].grouping,
        squall_topology_api::Grouping::Fields(squall_topology_api::Fields::new(["word"]))
    );
    let split = spec.component("split").unwrap();
    assert_eq!(split.config.get_bool("split.lower"), Some(true));
    assert_eq!(flux.conf.get_u64("topology.workers"), Some(2));
    assert_eq!(flux.conf.get_u64("topology.max.spout.pending"), Some(500));
}

#[test]
fn a_stream_naming_an_unknown_component_names_the_stream_and_key() {
    let yaml = WORD_COUNT.replace("to: \"count\"", "to: \"cuont\"");
    assert_eq!(
        error(&yaml),
        "stream \"split --> count\": to: no bolt has the id \"cuont\""
    );
    let yaml = WORD_COUNT.replace("from: \"sentences\"", "from: \"sentence\"");
    assert_eq!(
        error(&yaml),
        "stream \"sentences --> split\": from: no spout or bolt has the id \"sentence\""
    );
}

#[test]
fn a_bad_grouping_names_the_stream_and_key() {
    let yaml = WORD_COUNT.replace("type: SHUFFLE", "type: SHUFLE");
    assert_eq!(
        error(&yaml),
        "stream \"sentences --> split\": grouping.type: SHUFLE is not a Flux grouping Squall runs (SHUFFLE, FIELDS, ALL, GLOBAL, NONE, LOCAL_OR_SHUFFLE)"
    );
    let yaml = WORD_COUNT.replace("args: [\"word\"]", "args: [\"wrd\"]");
    assert_eq!(
        error(&yaml),
        "stream \"split --> count\": grouping.args: \"split\" stream \"default\" has no field \"wrd\" (it has [word])"
    );
}

#[test]
fn a_missing_command_names_the_component() {
    let yaml = WORD_COUNT.replace(
        "      - [\"python3\", \"splitsentence.py\"]\n      - [\"word\"]",
        "      - []\n      - [\"word\"]",
    );
    assert_eq!(
        error(&yaml),
        "bolt \"split\": constructorArgs[0]: the command is empty (for example [python3, split.py])"
    );
    let yaml = WORD_COUNT.replace(
        "    constructorArgs:\n      - [\"python3\", \"wordcount.py\"]\n      - [\"word\", \"count\"]\n",
        "",
    );
    assert_eq!(
        error(&yaml),
        "bolt \"count\": constructorArgs: FluxShellBolt takes [command...] and optionally [fields...], not 0 argument(s)"
    );
}

#[test]
fn a_java_class_unknown_keys_and_flux_features_squall_lacks_are_named() {
    let yaml = WORD_COUNT.replace(
        "org.apache.storm.flux.wrappers.spouts.FluxShellSpout",
        "org.apache.storm.kafka.spout.KafkaSpout",
    );
    assert!(
        error(&yaml).starts_with(
            "spout \"sentences\": className: org.apache.storm.kafka.spout.KafkaSpout is a Java class, which Squall cannot run"
        ),
        "{}",
        error(&yaml)
    );
    let yaml = WORD_COUNT.replace("    parallelism: 1\n", "    paralelism: 1\n");
    let err = error(&yaml);
    assert!(
        err.starts_with("spout \"sentences\": unknown field `paralelism`, expected one of"),
        "{err}"
    );
    let yaml = WORD_COUNT.replace("    parallelism: 1\n", "    parallelism: one\n");
    let err = error(&yaml);
    assert!(
        err.starts_with("spout \"sentences\": parallelism: invalid type"),
        "{err}"
    );
    assert_eq!(
        error(&format!(
            "includes:\n  - resource: true\n    file: other.yaml\n{WORD_COUNT}"
        )),
        "includes: Squall reads one file; copy the included definitions into it"
    );
    assert_eq!(
        error("name: x\nbolts: []\n"),
        "spouts: a topology needs at least one spout"
    );
    assert!(error("spouts: [\n").starts_with("not valid YAML"));
    assert_eq!(
        error(""),
        "the file is empty: a topology needs spouts, bolts and streams"
    );
}

#[test]
fn ids_are_unique_and_streams_end_at_bolts() {
    let yaml = WORD_COUNT.replace("id: \"count\"", "id: \"split\"");
    assert_eq!(
        error(&yaml),
        "bolt \"split\": id: a bolt already has the id \"split\""
    );
    let yaml = WORD_COUNT.replace("to: \"split\"", "to: \"sentences\"");
    assert_eq!(
        error(&yaml),
        "stream \"sentences --> split\": to: \"sentences\" is a spout; streams go to bolts"
    );
}

#[test]
fn loading_a_file_takes_its_directory_as_the_resources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wc.yaml");
    std::fs::write(&path, WORD_COUNT).unwrap();
    let flux = load(&path).unwrap();
    assert_eq!(
        flux.topology.spec().resources.as_deref(),
        Some(dir.path().to_str().unwrap())
    );
    let missing = load(&dir.path().join("nope.yaml")).err().unwrap();
    assert!(missing.to_string().starts_with("cannot read "), "{missing}");
    std::fs::write(
        &path,
        WORD_COUNT.replace("type: SHUFFLE", "type: BROADCAST"),
    )
    .unwrap();
    let err = load(&path).err().unwrap().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: stream \"sentences --> split\": grouping.type: BROADCAST",
            path.display()
        )),
        "{err}"
    );
}

/// Redis stream → a pystorm split → a Redis hash and a rolling file: every kind of
/// connector definition the parser reads, wired with groupings on the connectors' fields.
#[cfg(feature = "connectors")]
const CONNECTORS: &str = r#"
name: "redis-word-count"
spouts:
  - id: "sentences"
    className: "squall.connectors.redis.RedisStreamSpout"
    constructorArgs: ["redis://127.0.0.1:6379", "sentences", "squall", ["sentence"]]
    configMethods:
      - name: "withEntryId"
        args: ["entry"]
      - name: "addComponentConfig"
        args: ["topology.max.spout.pending", 1000]
    parallelism: 2
  - id: "events"
    className: "squall.connectors.kafka.KafkaSpout"
    constructorArgs: ["127.0.0.1:9092", "events", "squall"]
    configMethods:
      - name: "set"
        args: ["fetch.min.bytes", 1]
bolts:
  - id: "split"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs:
      - ["python3", "splitsentence.py"]
      - ["word", "count"]
  - id: "store"
    className: "squall.connectors.redis.RedisSink"
    constructorArgs: ["redis://127.0.0.1:6379"]
    configMethods:
      - name: "hset"
        args: ["word_counts", "word", "count"]
  - id: "archive"
    className: "squall.connectors.files.FileSink"
    constructorArgs: ["/var/lib/archive", "events"]
    configMethods:
      - name: "field"
        args: ["value"]
      - name: "rollBytes"
        args: [1048576]
streams:
  - from: "sentences"
    to: "split"
    grouping:
      type: FIELDS
      args: ["entry"]
  - from: "split"
    to: "store"
    grouping:
      type: FIELDS
      args: ["word"]
  - from: "events"
    to: "archive"
    grouping:
      type: FIELDS
      args: ["partition"]
"#;

#[cfg(feature = "connectors")]
#[test]
fn connectors_are_built_in_components_with_their_declared_fields_and_config() {
    let flux = parse(CONNECTORS, Path::new("/srv/wc")).unwrap();
    let spec = flux.topology.spec();
    let ids: Vec<_> = spec.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["sentences", "events", "split", "store", "archive"]);
    let sentences = spec.component("sentences").unwrap();
    assert_eq!(sentences.parallelism, 2);
    assert_eq!(
        sentences.outputs[0].fields,
        squall_topology_api::Fields::new(["sentence", "entry"])
    );
    assert_eq!(
        sentences.config.get("topology.max.spout.pending"),
        Some(&serde_json::json!(1000))
    );
    assert_eq!(
        spec.component("events").unwrap().outputs[0].fields,
        squall_topology_api::Fields::new(["topic", "partition", "offset", "key", "value"])
    );
    assert!(spec.component("store").unwrap().outputs.is_empty());
    assert_eq!(
        spec.component("archive").unwrap().inputs[0].component,
        "events"
    );
}

#[cfg(feature = "connectors")]
#[test]
fn a_connector_misused_is_one_line_naming_the_component_and_key() {
    let cases = [
        (
            "squall.connectors.redis.RedisStreamSpout\"",
            "squall.connectors.redis.RedisStreamSpot\"",
            "spout \"sentences\": className: squall.connectors.redis.RedisStreamSpot is not a Squall connector; the spouts are squall.connectors.redis.RedisStreamSpout, ",
        ),
        (
            "\"squall\", [\"sentence\"]]",
            "\"squall\"]",
            "spout \"sentences\": constructorArgs: RedisStreamSpout takes constructorArgs [url, stream, group, [fields...]]",
        ),
        (
            "\"squall\", [\"sentence\"]]",
            "\"squall\", []]",
            "spout \"sentences\": constructorArgs[3] (fields): the list is empty",
        ),
        (
            "name: \"hset\"",
            "name: \"hsett\"",
            "bolt \"store\": configMethods: RedisSink needs one write method: ",
        ),
        (
            "args: [\"word_counts\", \"word\", \"count\"]",
            "args: [\"word_counts\", \"word\"]",
            "bolt \"store\": configMethods[0] (hset): takes 3 argument(s), not 2",
        ),
        (
            "\"/var/lib/archive\"",
            "\"archive\"",
            "bolt \"archive\": constructorArgs[0] (directory): archive is relative; give an absolute path",
        ),
        (
            "args: [1048576]",
            "args: [\"1MB\"]",
            "bolt \"archive\": configMethods[1] (rollBytes): takes one positive whole number",
        ),
        (
            "name: \"withEntryId\"",
            "name: \"withEntryID\"",
            "spout \"sentences\": configMethods[0]: RedisStreamSpout has no method withEntryID (",
        ),
        (
            "className: \"squall.connectors.files.FileSink\"",
            "className: \"squall.connectors.files.FileSpout\"",
            "bolt \"archive\": className: squall.connectors.files.FileSpout is a spout, listed under bolts",
        ),
        (
            "args: [\"partition\"]",
            "args: [\"partitions\"]",
            "stream \"events --> archive\": grouping.args: \"events\" stream \"default\" has no field \"partitions\" (it has [topic, partition, offset, key, value])",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(CONNECTORS.contains(from), "{from}");
        let err = error(&CONNECTORS.replacen(from, to, 1));
        assert!(err.starts_with(expected), "{to}:\n{err}");
    }
}

/// A Kafka sink for a cluster that refuses idempotent producers: `idempotent(false)`.
#[cfg(feature = "connectors")]
const KAFKA_SINK: &str = r#"
name: "publish"
spouts:
  - id: "events"
    className: "squall.connectors.kafka.KafkaSpout"
    constructorArgs: ["127.0.0.1:9092", "events", "squall"]
bolts:
  - id: "publish"
    className: "squall.connectors.kafka.KafkaSink"
    constructorArgs: ["127.0.0.1:9092", "copies", "value"]
    configMethods:
      - name: "idempotent"
        args: [false]
streams:
  - from: "events"
    to: "publish"
    grouping:
      type: SHUFFLE
"#;

#[cfg(feature = "connectors")]
#[test]
fn a_kafka_sink_takes_idempotent_as_a_boolean() {
    let flux = parse(KAFKA_SINK, Path::new("/srv/p")).unwrap();
    assert!(flux.topology.spec().component("publish").is_some());
    let err = parse(
        &KAFKA_SINK.replace("args: [false]", "args: [\"no\"]"),
        Path::new("/srv/p"),
    )
    .err()
    .expect("a string is refused");
    assert_eq!(
        err.to_string(),
        "bolt \"publish\": configMethods[0] (idempotent): takes one boolean, true or false"
    );
}
