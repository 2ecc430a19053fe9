fn main() {
    println!("chathost");
}
