//! Borrowed arguments (`&str`, `&[T]`, `&T`), options, tuples and serde
//! structs, called through an in-process client.

use std::sync::Arc;

use remote::{remote_object, Client, Server};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    Dot(Point),
    Line { from: Point, to: Point },
}

#[remote_object]
pub trait Geometry: Send + Sync {
    fn greet(&self, name: &str) -> String;
    fn sum(&self, points: &[Point]) -> Point;
    fn describe(&self, shape: &Shape) -> String;
    fn nickname(&self, name: Option<String>) -> Option<String>;
    fn pair(&self, pair: (u8, String)) -> (String, u8);
    fn unit(&self);
    fn shapes(&self, n: u32) -> Vec<Shape>;
}

struct Impl;

impl Geometry for Impl {
    fn greet(&self, name: &str) -> String {
        format!("hello, {name}")
    }
    fn sum(&self, points: &[Point]) -> Point {
        points.iter().fold(Point { x: 0, y: 0 }, |a, p| Point {
            x: a.x + p.x,
            y: a.y + p.y,
        })
    }
    fn describe(&self, shape: &Shape) -> String {
        format!("{shape:?}")
    }
    fn nickname(&self, name: Option<String>) -> Option<String> {
        name.map(|n| format!("{n}y"))
    }
    fn pair(&self, (n, s): (u8, String)) -> (String, u8) {
        (s, n)
    }
    fn unit(&self) {}
    fn shapes(&self, n: u32) -> Vec<Shape> {
        (0..n as i32)
            .map(|x| Shape::Dot(Point { x, y: 0 }))
            .collect()
    }
}

fn main() {
    let server = Server::new();
    server.export("geometry", Arc::new(Impl) as Arc<dyn Geometry>);
    let client = Client::in_process(&server).unwrap();
    let g: GeometryProxy = client.require("geometry").unwrap();
    assert_eq!(g.greet("Ada").unwrap(), "hello, Ada");
    let points = vec![Point { x: 1, y: 2 }, Point { x: 3, y: 4 }];
    assert_eq!(g.sum(&points).unwrap(), Point { x: 4, y: 6 });
    assert_eq!(
        g.describe(&Shape::Dot(Point { x: 0, y: 1 })).unwrap(),
        "Dot(Point { x: 0, y: 1 })"
    );
    assert_eq!(g.nickname(Some("Bob".into())).unwrap(), Some("Boby".into()));
    assert_eq!(g.nickname(None).unwrap(), None);
    assert_eq!(
        g.pair((7, "seven".into())).unwrap(),
        ("seven".to_string(), 7)
    );
    g.unit().unwrap();
    assert_eq!(g.shapes(2).unwrap().len(), 2);
}
