//! The protobuf schema of a service, collected from its Rust types and
//! rendered as a `.proto` file (and, in [`super::descriptor`], as the
//! descriptors gRPC reflection serves).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::ProtoMessage;

/// A field's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A scalar: `int32`, `string`, `bytes`, ...
    Scalar(&'static str),
    /// A message, by full name (`strings.Item`, `google.protobuf.Duration`).
    Message(String),
    /// An enum, by full name.
    Enum(String),
    /// `map<K, V>`.
    Map(Box<FieldType>, Box<FieldType>),
}

/// A field's cardinality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// Implicit presence.
    Singular,
    /// proto3 `optional`: explicit presence.
    Optional,
    /// `repeated`.
    Repeated,
}

/// One field of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSchema {
    /// Field name.
    pub name: String,
    /// Field number.
    pub number: u32,
    /// Type.
    pub ty: FieldType,
    /// Cardinality.
    pub label: Label,
    /// The `oneof` the field belongs to, if any.
    pub oneof: Option<String>,
}

impl FieldSchema {
    /// A field named `name` with number `number`.
    pub fn new(name: impl Into<String>, number: u32, ty: FieldType, label: Label) -> FieldSchema {
        FieldSchema {
            name: name.into(),
            number,
            ty,
            label,
            oneof: None,
        }
    }

    /// The same field, as a member of the `oneof` named `name`.
    pub fn in_oneof(mut self, name: impl Into<String>) -> FieldSchema {
        self.oneof = Some(name.into());
        self
    }
}

/// A message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSchema {
    /// Full name.
    pub full_name: String,
    /// Doc comment.
    pub doc: String,
    /// Fields, in declaration order.
    pub fields: Vec<FieldSchema>,
}

/// An enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumSchema {
    /// Full name.
    pub full_name: String,
    /// Doc comment.
    pub doc: String,
    /// Values and their numbers.
    pub values: Vec<(String, i32)>,
}

/// A unary method of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodSchema {
    /// Method name (`Uppercase`).
    pub name: String,
    /// Full name of the request message.
    pub request: String,
    /// Full name of the response message.
    pub response: String,
    /// Doc comment.
    pub doc: String,
    /// The client sends a stream of requests.
    pub client_streaming: bool,
    /// The server answers a stream of responses.
    pub server_streaming: bool,
}

/// A service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSchema {
    /// Service name (`StringService`).
    pub name: String,
    /// Doc comment.
    pub doc: String,
    /// Methods, in declaration order.
    pub methods: Vec<MethodSchema>,
}

/// A well-known type kit maps a std type to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WellKnown {
    /// Full name (`google.protobuf.Duration`).
    pub full_name: &'static str,
    /// The file that defines it (`google/protobuf/duration.proto`).
    pub file: &'static str,
    /// Its fields: name, number, scalar type.
    pub fields: &'static [(&'static str, u32, &'static str)],
}

/// Everything one `.proto` file declares.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    package: String,
    messages: Vec<MessageSchema>,
    enums: Vec<EnumSchema>,
    services: Vec<ServiceSchema>,
    well_known: BTreeMap<&'static str, WellKnown>,
    in_progress: BTreeSet<String>,
    errors: Vec<String>,
}

impl Schema {
    /// An empty schema for `package`.
    pub fn new(package: impl Into<String>) -> Schema {
        Schema {
            package: package.into(),
            ..Schema::default()
        }
    }

    /// The package.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// The full name of a name declared in this schema.
    pub fn full_name(&self, name: &str) -> String {
        if name.contains('.') || self.package.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.package, name)
        }
    }

    /// Registers message `M` (once) and returns its field type.
    pub fn message<M: ProtoMessage>(&mut self) -> FieldType {
        let full = self.full_name(M::NAME);
        let known = self.messages.iter().any(|m| m.full_name == full)
            || self.well_known.contains_key(M::NAME);
        if !known && self.in_progress.insert(full.clone()) {
            M::describe(self);
            self.in_progress.remove(&full);
        }
        FieldType::Message(full)
    }

    /// Declares a message. A second, different message of the same name is
    /// recorded as an error (see [`Schema::errors`]).
    pub fn add_message(&mut self, name: &str, doc: &str, fields: Vec<FieldSchema>) {
        let msg = MessageSchema {
            full_name: self.full_name(name),
            doc: doc.to_string(),
            fields,
        };
        match self.messages.iter().find(|m| m.full_name == msg.full_name) {
            Some(existing) if *existing != msg => self.errors.push(format!(
                "two different messages are named `{}`; rename one (e.g. with a different Rust type name)",
                msg.full_name
            )),
            Some(_) => {}
            None => self.messages.push(msg),
        }
    }

    /// Declares an enum and returns its field type.
    pub fn add_enum(&mut self, name: &str, doc: &str, values: &[(&str, i32)]) -> FieldType {
        let e = EnumSchema {
            full_name: self.full_name(name),
            doc: doc.to_string(),
            values: values.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        };
        let full = e.full_name.clone();
        match self.enums.iter().find(|x| x.full_name == full) {
            Some(existing) if *existing != e => self
                .errors
                .push(format!("two different enums are named `{full}`")),
            Some(_) => {}
            None => self.enums.push(e),
        }
        FieldType::Enum(full)
    }

    /// Declares a well-known type (imported, not defined here).
    pub fn well_known(
        &mut self,
        full_name: &'static str,
        file: &'static str,
        fields: &'static [(&'static str, u32, &'static str)],
    ) {
        self.well_known.insert(
            full_name,
            WellKnown {
                full_name,
                file,
                fields,
            },
        );
    }

    /// Declares a service.
    pub fn add_service(&mut self, service: ServiceSchema) {
        let mut names = BTreeSet::new();
        for m in &service.methods {
            if !names.insert(&m.name) {
                self.errors.push(format!(
                    "service `{}` has two methods named `{}`",
                    service.name, m.name
                ));
            }
        }
        self.services.push(service);
    }

    /// The messages, in registration order.
    pub fn messages(&self) -> &[MessageSchema] {
        &self.messages
    }

    /// The enums.
    pub fn enums(&self) -> &[EnumSchema] {
        &self.enums
    }

    /// The services.
    pub fn services(&self) -> &[ServiceSchema] {
        &self.services
    }

    /// The well-known types used.
    pub fn well_known_types(&self) -> impl Iterator<Item = &WellKnown> {
        self.well_known.values()
    }

    /// Conflicts found while collecting (two types with one name, ...).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// How `ty` is written in this file.
    fn type_name(&self, ty: &FieldType) -> String {
        match ty {
            FieldType::Scalar(s) => (*s).to_string(),
            FieldType::Message(full) | FieldType::Enum(full) => {
                let prefix = format!("{}.", self.package);
                match full.strip_prefix(&prefix) {
                    Some(short) if !self.package.is_empty() => short.to_string(),
                    _ => full.clone(),
                }
            }
            FieldType::Map(k, v) => format!("map<{}, {}>", self.type_name(k), self.type_name(v)),
        }
    }

    /// The `.proto` text.
    pub fn to_proto(&self) -> String {
        let mut out = String::new();
        out.push_str("// Generated by kit from Rust service definitions. Do not edit by hand:\n");
        out.push_str("// the Rust code is the source of truth.\n");
        out.push_str("syntax = \"proto3\";\n\n");
        if !self.package.is_empty() {
            let _ = writeln!(out, "package {};\n", self.package);
        }
        let imports: BTreeSet<_> = self.well_known.values().map(|w| w.file).collect();
        for file in &imports {
            let _ = writeln!(out, "import \"{file}\";");
        }
        if !imports.is_empty() {
            out.push('\n');
        }
        for s in &self.services {
            doc_comment(&mut out, &s.doc, "");
            let _ = writeln!(out, "service {} {{", s.name);
            for m in &s.methods {
                doc_comment(&mut out, &m.doc, "  ");
                // Fully qualified: inside a service block a bare name
                // resolves to an rpc first (`rpc Stats(..) returns (Stats)`).
                let stream = |on: bool| if on { "stream " } else { "" };
                let _ = writeln!(
                    out,
                    "  rpc {}({}.{}) returns ({}.{});",
                    m.name,
                    stream(m.client_streaming),
                    m.request,
                    stream(m.server_streaming),
                    m.response
                );
            }
            out.push_str("}\n\n");
        }
        for m in &self.messages {
            doc_comment(&mut out, &m.doc, "");
            let _ = writeln!(out, "message {} {{", short(&m.full_name));
            let mut open_oneof: Option<&str> = None;
            for f in &m.fields {
                if open_oneof.is_some() && open_oneof != f.oneof.as_deref() {
                    out.push_str("  }\n");
                    open_oneof = None;
                }
                if let (None, Some(name)) = (open_oneof, f.oneof.as_deref()) {
                    let _ = writeln!(out, "  oneof {name} {{");
                    open_oneof = Some(name);
                }
                let label = match (f.label, &f.ty) {
                    _ if f.oneof.is_some() => "",
                    (_, FieldType::Map(..)) => "",
                    (Label::Optional, _) => "optional ",
                    (Label::Repeated, _) => "repeated ",
                    (Label::Singular, _) => "",
                };
                let indent = if f.oneof.is_some() { "    " } else { "  " };
                let _ = writeln!(
                    out,
                    "{indent}{label}{} {} = {};",
                    self.type_name(&f.ty),
                    f.name,
                    f.number
                );
            }
            if open_oneof.is_some() {
                out.push_str("  }\n");
            }
            out.push_str("}\n\n");
        }
        for e in &self.enums {
            doc_comment(&mut out, &e.doc, "");
            let _ = writeln!(out, "enum {} {{", short(&e.full_name));
            for (name, number) in &e.values {
                let _ = writeln!(out, "  {name} = {number};");
            }
            out.push_str("}\n\n");
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}

fn short(full: &str) -> &str {
    full.rsplit('.').next().unwrap_or(full)
}

fn doc_comment(out: &mut String, doc: &str, indent: &str) {
    for line in doc.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}//");
        } else {
            let _ = writeln!(out, "{indent}// {line}");
        }
    }
}
