// New migration directories must trigger a rebuild: embed_migrations! does not notice them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
