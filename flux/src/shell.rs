//! Storm's shell wrappers, `FluxShellSpout` and `FluxShellBolt`, as Flux files name them:
//! `constructorArgs: [[command...], [fields...]]`, and the config methods those classes have
//! (`addComponentConfig`, `setDefaultStream`, `setNamedStream`). Read into a [`ShellDef`]
//! that becomes a [`ShellSpout`] or [`ShellBolt`].

use serde_json::Value as Json;
use squall_topology_api::Fields;
use squall_worker::multilang::{ShellBolt, ShellSpout};

use crate::model::ComponentDef;

/// Storm's class names for the wrappers.
pub const SHELL_SPOUT_CLASS: &str = "org.apache.storm.flux.wrappers.spouts.FluxShellSpout";
/// See [`SHELL_SPOUT_CLASS`].
pub const SHELL_BOLT_CLASS: &str = "org.apache.storm.flux.wrappers.bolts.FluxShellBolt";

/// Spout or bolt: which section a component is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Under `spouts:`.
    Spout,
    /// Under `bolts:`.
    Bolt,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Spout => "spout",
            Kind::Bolt => "bolt",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Kind::Spout => SHELL_SPOUT_CLASS,
            Kind::Bolt => SHELL_BOLT_CLASS,
        }
    }
}

/// A shell component as the file defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellDef {
    /// The command and its arguments, run in the topology's resources directory.
    pub command: Vec<String>,
    /// Declared streams in the order first declared: (stream id, fields).
    pub streams: Vec<(String, Vec<String>)>,
    /// `addComponentConfig` settings, in order.
    pub config: Vec<(String, Json)>,
    /// Executors.
    pub parallelism: u32,
    /// Where the command runs: the YAML file's directory (set by [`crate::parse`]).
    pub dir: Option<std::path::PathBuf>,
}

impl ShellDef {
    /// Reads a component defined with Storm's shell wrapper for its `kind`. The error is a
    /// sentence naming the key at fault (the caller names the component).
    pub fn read(kind: Kind, def: &ComponentDef) -> Result<ShellDef, String> {
        check_class(kind, &def.class_name)?;
        for (key, present) in [
            ("properties", def.properties.is_some()),
            ("factory", def.factory.is_some()),
            ("factoryArgs", def.factory_args.is_some()),
        ] {
            if present {
                return Err(format!(
                    "{key}: {} takes only constructorArgs and configMethods (addComponentConfig, setDefaultStream, setNamedStream)",
                    short(kind.class())
                ));
            }
        }
        let (command, default_fields) = match def.constructor_args.as_slice() {
            [command] => (command, None),
            [command, fields] => (command, Some(fields)),
            other => {
                return Err(format!(
                    "constructorArgs: {} takes [command...] and optionally [fields...], not {} argument(s)",
                    short(kind.class()),
                    other.len()
                ));
            }
        };
        let command =
            strings(command).map_err(|e| format!("constructorArgs[0] (the command): {e}"))?;
        if command.is_empty() || command[0].trim().is_empty() {
            return Err(
                "constructorArgs[0]: the command is empty (for example [python3, split.py])".into(),
            );
        }
        let mut shell = ShellDef {
            command,
            streams: Vec::new(),
            config: Vec::new(),
            parallelism: parallelism(def.parallelism)?,
            dir: None,
        };
        if let Some(fields) = default_fields {
            let fields = strings(fields)
                .map_err(|e| format!("constructorArgs[1] (the output fields): {e}"))?;
            shell.declare("default", fields);
        }
        for (i, method) in def.config_methods.iter().enumerate() {
            let at = |e: String| format!("configMethods[{i}] ({}): {e}", method.name);
            match (method.name.as_str(), method.args.as_slice()) {
                ("addComponentConfig", [key, value]) => {
                    let key = key
                        .as_str()
                        .ok_or_else(|| at("the key must be a string".into()))?;
                    shell.config.push((key.to_owned(), value.clone()));
                }
                ("setDefaultStream", [fields]) => {
                    let fields = strings(fields).map_err(at)?;
                    shell.declare("default", fields);
                }
                ("setNamedStream", [name, fields]) => {
                    let name = name
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| at("the stream name must be a non-empty string".into()))?;
                    let fields = strings(fields).map_err(at)?;
                    shell.declare(name, fields);
                }
                ("addComponentConfig" | "setDefaultStream" | "setNamedStream", args) => {
                    return Err(at(format!(
                        "takes {} argument(s), not {}",
                        match method.name.as_str() {
                            "setDefaultStream" => "1 ([fields...])",
                            "setNamedStream" => "2 (name, [fields...])",
                            _ => "2 (key, value)",
                        },
                        args.len()
                    )));
                }
                (other, _) => {
                    return Err(format!(
                        "configMethods[{i}]: {} has no method {other} (it has addComponentConfig, setDefaultStream and setNamedStream)",
                        short(kind.class())
                    ));
                }
            }
        }
        Ok(shell)
    }

    /// Declares (or, as Storm's map does, redeclares) a stream.
    fn declare(&mut self, stream: &str, fields: Vec<String>) {
        match self.streams.iter_mut().find(|(s, _)| s == stream) {
            Some(entry) => entry.1 = fields,
            None => self.streams.push((stream.to_owned(), fields)),
        }
    }

    /// The declared fields of a stream.
    pub fn fields(&self, stream: &str) -> Option<&[String]> {
        self.streams
            .iter()
            .find(|(s, _)| s == stream)
            .map(|(_, f)| f.as_slice())
    }

    /// A shell spout running this definition.
    pub fn spout(&self) -> ShellSpout {
        let mut spout = ShellSpout::new(self.command.iter().cloned());
        for (stream, fields) in &self.streams {
            let fields = Fields::new(fields.iter().map(String::as_str));
            spout = match stream.as_str() {
                "default" => spout.output(fields),
                s => spout.output_stream(s, fields),
            };
        }
        match &self.dir {
            Some(dir) => spout.current_dir(dir),
            None => spout,
        }
    }

    /// A shell bolt running this definition.
    pub fn bolt(&self) -> ShellBolt {
        let mut bolt = ShellBolt::new(self.command.iter().cloned());
        for (stream, fields) in &self.streams {
            let fields = Fields::new(fields.iter().map(String::as_str));
            bolt = match stream.as_str() {
                "default" => bolt.output(fields),
                s => bolt.output_stream(s, fields),
            };
        }
        match &self.dir {
            Some(dir) => bolt.current_dir(dir),
            None => bolt,
        }
    }
}

fn short(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

fn check_class(kind: Kind, class: &str) -> Result<(), String> {
    if class == kind.class() {
        return Ok(());
    }
    let other = match kind {
        Kind::Spout => Kind::Bolt,
        Kind::Bolt => Kind::Spout,
    };
    if class == other.class() {
        return Err(format!(
            "className: {class} is a {}, listed under {}s",
            other.word(),
            kind.word()
        ));
    }
    Err(format!(
        "className: {class} is a Java class, which Squall cannot run; Squall runs {}s in any language through Storm's multi-lang protocol with className {}, and has built-in connectors named {}*",
        kind.word(),
        kind.class(),
        crate::connector::PREFIX
    ))
}

pub(crate) fn parallelism(value: Option<i64>) -> Result<u32, String> {
    match value {
        None => Ok(1),
        Some(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("parallelism: {n} is too large")),
        Some(n) => Err(format!(
            "parallelism: {n} is not a positive number of executors"
        )),
    }
}

/// A list of strings (numbers are taken as their text, as YAML writes `[python3, 2]`).
pub(crate) fn strings(value: &Json) -> Result<Vec<String>, String> {
    let Json::Array(items) = value else {
        return Err(format!(
            "expected a list such as [a, b], found {}",
            kind_of(value)
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.to_string()),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(format!(
                "expected a list of strings, found {} in it",
                kind_of(other)
            )),
        })
        .collect()
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "nothing",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map (a Flux ref: or Java object?)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(yaml: &str) -> ComponentDef {
        let value: Json = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn storms_constructor_and_config_methods_are_read() {
        let d = def(r#"
id: split
className: org.apache.storm.flux.wrappers.bolts.FluxShellBolt
constructorArgs:
  - ["python3", "splitsentence.py"]
  - ["word"]
parallelism: 3
configMethods:
  - name: addComponentConfig
    args: ["split.lower", true]
  - name: setNamedStream
    args: [lengths, [word, length]]
"#);
        let shell = ShellDef::read(Kind::Bolt, &d).unwrap();
        assert_eq!(shell.command, ["python3", "splitsentence.py"]);
        assert_eq!(shell.parallelism, 3);
        assert_eq!(shell.fields("default"), Some(&["word".to_owned()][..]));
        assert_eq!(
            shell.fields("lengths"),
            Some(&["word".to_owned(), "length".to_owned()][..])
        );
        assert_eq!(shell.config, [("split.lower".to_owned(), Json::Bool(true))]);
    }

    #[test]
    fn a_java_class_or_a_misplaced_wrapper_is_named() {
        let java = def("{id: k, className: org.apache.storm.kafka.spout.KafkaSpout}");
        let err = ShellDef::read(Kind::Spout, &java).unwrap_err();
        assert!(
            err.starts_with("className: org.apache.storm.kafka.spout.KafkaSpout is a Java class, which Squall cannot run"),
            "{err}"
        );
        let bolt_as_spout = def(&format!(
            "{{id: k, className: {SHELL_BOLT_CLASS}, constructorArgs: [[x]]}}"
        ));
        let err = ShellDef::read(Kind::Spout, &bolt_as_spout).unwrap_err();
        assert_eq!(
            err,
            format!("className: {SHELL_BOLT_CLASS} is a bolt, listed under spouts")
        );
    }

    #[test]
    fn bad_shapes_name_the_key() {
        let cases = [
            (
                "constructorArgs: []",
                "constructorArgs: FluxShellBolt takes [command...] and optionally [fields...], not 0 argument(s)",
            ),
            (
                "constructorArgs: [[]]",
                "constructorArgs[0]: the command is empty (for example [python3, split.py])",
            ),
            (
                "constructorArgs: [python3]",
                "constructorArgs[0] (the command): expected a list such as [a, b], found a string",
            ),
            (
                "constructorArgs: [[python3], [{ref: x}]]",
                "constructorArgs[1] (the output fields): expected a list of strings, found a map (a Flux ref: or Java object?) in it",
            ),
            (
                "constructorArgs: [[a]], parallelism: 0",
                "parallelism: 0 is not a positive number of executors",
            ),
            (
                "constructorArgs: [[a]], configMethods: [{name: withTumblingWindow, args: [1]}]",
                "configMethods[0]: FluxShellBolt has no method withTumblingWindow (it has addComponentConfig, setDefaultStream and setNamedStream)",
            ),
            (
                "constructorArgs: [[a]], configMethods: [{name: setNamedStream, args: [x]}]",
                "configMethods[0] (setNamedStream): takes 2 (name, [fields...]) argument(s), not 1",
            ),
            (
                "constructorArgs: [[a]], properties: [{name: x, value: 1}]",
                "properties: FluxShellBolt takes only constructorArgs and configMethods (addComponentConfig, setDefaultStream, setNamedStream)",
            ),
        ];
        for (yaml, want) in cases {
            let d = def(&format!("{{id: b, className: {SHELL_BOLT_CLASS}, {yaml}}}"));
            assert_eq!(ShellDef::read(Kind::Bolt, &d).unwrap_err(), want, "{yaml}");
        }
    }
}
