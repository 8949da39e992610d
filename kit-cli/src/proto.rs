//! `.proto` text from descriptors that reflection gave: what `kit describe
//! --proto` prints, for kit servers and any other gRPC server alike.

use std::collections::HashMap;
use std::fmt::Write as _;

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    ServiceDescriptor, Syntax,
};

/// Doc comments to attach: full names (`strings.v1.StringService`,
/// `strings.v1.StringService.Uppercase`) to text. Reflection carries none,
/// so kit-cli takes them from `/kit/describe` when it can.
pub type Docs = HashMap<String, String>;

/// The `.proto` text of `file`.
pub fn render(file: &FileDescriptor, docs: &Docs) -> String {
    let mut out = String::new();
    let syntax = match file.syntax() {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
    };
    let _ = writeln!(out, "// {} (from the server's reflection)", file.name());
    let _ = writeln!(out, "syntax = \"{syntax}\";\n");
    if !file.package_name().is_empty() {
        let _ = writeln!(out, "package {};\n", file.package_name());
    }
    let imports: Vec<FileDescriptor> = file.dependencies().collect();
    for dep in &imports {
        let _ = writeln!(out, "import \"{}\";", dep.name());
    }
    if !imports.is_empty() {
        out.push('\n');
    }
    for service in file.services() {
        service_text(&mut out, &service, docs);
        out.push('\n');
    }
    for message in file.messages() {
        message_text(&mut out, &message, 0, syntax == "proto3");
        out.push('\n');
    }
    for e in file.enums() {
        enum_text(&mut out, &e, 0);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn comment(out: &mut String, indent: &str, text: Option<&String>) {
    if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
        for line in text.trim().lines() {
            let _ = writeln!(out, "{indent}// {}", line.trim_end());
        }
    }
}

fn service_text(out: &mut String, service: &ServiceDescriptor, docs: &Docs) {
    comment(out, "", docs.get(service.full_name()));
    let _ = writeln!(out, "service {} {{", service.name());
    for m in service.methods() {
        comment(out, "  ", docs.get(m.full_name()));
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let _ = writeln!(
            out,
            "  rpc {}({}.{}) returns ({}.{});",
            m.name(),
            stream(m.is_client_streaming()),
            m.input().full_name(),
            stream(m.is_server_streaming()),
            m.output().full_name()
        );
    }
    out.push_str("}\n");
}

fn message_text(out: &mut String, message: &MessageDescriptor, depth: usize, proto3: bool) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}message {} {{", message.name());
    let inner = "  ".repeat(depth + 1);
    for child in message.child_messages().filter(|m| !m.is_map_entry()) {
        message_text(out, &child, depth + 1, proto3);
    }
    for e in message.child_enums() {
        enum_text(out, &e, depth + 1);
    }
    let mut done_oneofs: Vec<String> = Vec::new();
    for field in message.fields() {
        match field.containing_oneof().filter(|o| !o.is_synthetic()) {
            Some(oneof) => {
                if done_oneofs.iter().any(|n| n == oneof.name()) {
                    continue;
                }
                done_oneofs.push(oneof.name().to_string());
                let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
                for f in oneof.fields() {
                    let _ = writeln!(
                        out,
                        "{inner}  {} {} = {};",
                        type_name(&f),
                        f.name(),
                        f.number()
                    );
                }
                let _ = writeln!(out, "{inner}}}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "{inner}{}{} {} = {};",
                    label(&field, proto3),
                    type_name(&field),
                    field.name(),
                    field.number()
                );
            }
        }
    }
    let _ = writeln!(out, "{indent}}}");
}

fn label(field: &FieldDescriptor, proto3: bool) -> &'static str {
    if field.is_map() {
        return "";
    }
    match field.cardinality() {
        Cardinality::Repeated => "repeated ",
        Cardinality::Required => "required ",
        Cardinality::Optional if !proto3 => "optional ",
        // proto3 `optional`: a field in a synthetic oneof.
        Cardinality::Optional if field.containing_oneof().is_some() => "optional ",
        Cardinality::Optional => "",
    }
}

fn type_name(field: &FieldDescriptor) -> String {
    let here = field.parent_message().package_name();
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            let k = kind_name(&entry.map_entry_key_field().kind(), here);
            let v = kind_name(&entry.map_entry_value_field().kind(), here);
            return format!("map<{k}, {v}>");
        }
    }
    kind_name(&field.kind(), here)
}

fn kind_name(kind: &Kind, here: &str) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => relative(m.full_name(), m.package_name(), here),
        Kind::Enum(e) => relative(e.full_name(), e.package_name(), here),
    }
}

/// A field's type as kit writes it: relative to the package of the file
/// it is used in (`here`), by its full name from another package.
fn relative(full: &str, package: &str, here: &str) -> String {
    match full.strip_prefix(package).and_then(|r| r.strip_prefix('.')) {
        Some(short) if !package.is_empty() && package == here => short.to_string(),
        _ => full.to_string(),
    }
}

fn enum_text(out: &mut String, e: &EnumDescriptor, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    for v in e.values() {
        let _ = writeln!(out, "{indent}  {} = {};", v.name(), v.number());
    }
    let _ = writeln!(out, "{indent}}}");
}
