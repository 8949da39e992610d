//! The schema as protobuf descriptors (`FileDescriptorSet`), for gRPC
//! server reflection.

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label as PLabel, Type as PType};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, FileDescriptorSet, MessageOptions, MethodDescriptorProto,
    OneofDescriptorProto, ServiceDescriptorProto,
};

use super::schema::{FieldType, Label, Schema};

/// The encoded `FileDescriptorSet` of `schema` (named `file_name`), with
/// the well-known files it imports.
pub(crate) fn file_descriptor_set(schema: &Schema, file_name: &str) -> Vec<u8> {
    let mut files = Vec::new();
    let mut deps = Vec::new();
    for wk in schema.well_known_types() {
        let (package, name) = wk.full_name.rsplit_once('.').unwrap_or(("", wk.full_name));
        files.push(FileDescriptorProto {
            name: Some(wk.file.to_string()),
            package: Some(package.to_string()),
            syntax: Some("proto3".into()),
            message_type: vec![DescriptorProto {
                name: Some(name.to_string()),
                field: wk
                    .fields
                    .iter()
                    .map(|(n, num, ty)| scalar_field(n, *num, ty))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
        deps.push(wk.file.to_string());
    }
    let package = schema.package().to_string();
    let mut main = FileDescriptorProto {
        name: Some(file_name.to_string()),
        package: Some(package.clone()),
        dependency: deps,
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    for m in schema.messages() {
        let mut msg = DescriptorProto {
            name: Some(short(&m.full_name).to_string()),
            ..Default::default()
        };
        for f in &m.fields {
            let mut fd = match &f.ty {
                FieldType::Map(k, v) => {
                    let entry = format!("{}Entry", camel(&f.name));
                    msg.nested_type.push(DescriptorProto {
                        name: Some(entry.clone()),
                        field: vec![
                            typed_field("key", 1, k, Label::Singular),
                            typed_field("value", 2, v, Label::Singular),
                        ],
                        options: Some(MessageOptions {
                            map_entry: Some(true),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                    let mut fd = typed_field(
                        &f.name,
                        f.number,
                        &FieldType::Message(format!("{}.{entry}", m.full_name)),
                        Label::Repeated,
                    );
                    fd.type_name = Some(format!(".{}.{entry}", m.full_name));
                    fd
                }
                ty => typed_field(&f.name, f.number, ty, f.label),
            };
            if let Some(name) = &f.oneof {
                fd.oneof_index = Some(oneof_index(&mut msg, name));
            } else if f.label == Label::Optional
                && !matches!(f.ty, FieldType::Message(_) | FieldType::Map(..))
            {
                // proto3 optional is a synthetic one-field oneof.
                fd.oneof_index = Some(msg.oneof_decl.len() as i32);
                fd.proto3_optional = Some(true);
                msg.oneof_decl.push(OneofDescriptorProto {
                    name: Some(format!("_{}", f.name)),
                    options: None,
                });
            }
            msg.field.push(fd);
        }
        main.message_type.push(msg);
    }
    for e in schema.enums() {
        main.enum_type.push(EnumDescriptorProto {
            name: Some(short(&e.full_name).to_string()),
            value: e
                .values
                .iter()
                .map(|(n, v)| EnumValueDescriptorProto {
                    name: Some(n.clone()),
                    number: Some(*v),
                    options: None,
                })
                .collect(),
            ..Default::default()
        });
    }
    for s in schema.services() {
        main.service.push(ServiceDescriptorProto {
            name: Some(s.name.clone()),
            method: s
                .methods
                .iter()
                .map(|m| MethodDescriptorProto {
                    name: Some(m.name.clone()),
                    input_type: Some(format!(".{}", m.request)),
                    output_type: Some(format!(".{}", m.response)),
                    client_streaming: m.client_streaming.then_some(true),
                    server_streaming: m.server_streaming.then_some(true),
                    ..Default::default()
                })
                .collect(),
            options: None,
        });
    }
    files.push(main);
    FileDescriptorSet { file: files }.encode_to_vec()
}

/// The index of the `oneof` named `name` in `msg`, declared if new. Real
/// oneofs come before the synthetic ones of proto3 `optional` fields
/// because kit puts a message's oneof fields before any optional field:
/// an enum with data is a message of one oneof and nothing else.
fn oneof_index(msg: &mut DescriptorProto, name: &str) -> i32 {
    if let Some(i) = msg
        .oneof_decl
        .iter()
        .position(|o| o.name.as_deref() == Some(name))
    {
        return i as i32;
    }
    msg.oneof_decl.push(OneofDescriptorProto {
        name: Some(name.to_string()),
        options: None,
    });
    msg.oneof_decl.len() as i32 - 1
}

fn short(full: &str) -> &str {
    full.rsplit('.').next().unwrap_or(full)
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn scalar_type(name: &str) -> PType {
    match name {
        "double" => PType::Double,
        "float" => PType::Float,
        "int64" => PType::Int64,
        "uint64" => PType::Uint64,
        "int32" => PType::Int32,
        "fixed64" => PType::Fixed64,
        "fixed32" => PType::Fixed32,
        "bool" => PType::Bool,
        "string" => PType::String,
        "bytes" => PType::Bytes,
        "uint32" => PType::Uint32,
        "sfixed32" => PType::Sfixed32,
        "sfixed64" => PType::Sfixed64,
        "sint32" => PType::Sint32,
        "sint64" => PType::Sint64,
        _ => PType::Bytes,
    }
}

fn scalar_field(name: &str, number: u32, ty: &str) -> FieldDescriptorProto {
    typed_field(
        name,
        number,
        &FieldType::Scalar(scalar_type_name(ty)),
        Label::Singular,
    )
}

fn scalar_type_name(ty: &str) -> &'static str {
    match ty {
        "int64" => "int64",
        "int32" => "int32",
        _ => "bytes",
    }
}

fn typed_field(name: &str, number: u32, ty: &FieldType, label: Label) -> FieldDescriptorProto {
    let (r#type, type_name) = match ty {
        FieldType::Scalar(s) => (scalar_type(s), None),
        FieldType::Message(full) => (PType::Message, Some(format!(".{full}"))),
        FieldType::Enum(full) => (PType::Enum, Some(format!(".{full}"))),
        FieldType::Map(..) => (PType::Message, None),
    };
    FieldDescriptorProto {
        name: Some(name.to_string()),
        number: Some(number as i32),
        label: Some(match label {
            Label::Repeated => PLabel::Repeated,
            _ => PLabel::Optional,
        } as i32),
        r#type: Some(r#type as i32),
        type_name,
        json_name: Some(lower_camel(name)),
        ..Default::default()
    }
}

fn lower_camel(name: &str) -> String {
    let c = camel(name);
    let mut chars = c.chars();
    chars
        .next()
        .map(|f| f.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}
