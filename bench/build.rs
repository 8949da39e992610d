//! Compiles the example's checked-in .proto with tonic-prost-build: the
//! hand-written tonic contenders are what a proto-first user would write.
fn main() {
    println!("cargo:rerun-if-changed=../examples/stringsvc/proto/strings/v1.proto");
    tonic_prost_build::configure()
        .compile_protos(
            &["../examples/stringsvc/proto/strings/v1.proto"],
            &["../examples/stringsvc/proto"],
        )
        .expect("protoc compiles the example's .proto (apt package protobuf-compiler)");
}
