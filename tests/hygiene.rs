//! The generated code names everything by absolute paths: it compiles in a
//! module without the prelude, and in a module that shadows the prelude's
//! names, and the generated proxies work there.
#![allow(missing_docs)]

/// No prelude at all: every path below is absolute, and so must be every path
/// the macro emits.
mod np {
    #![no_implicit_prelude]

    #[::remote::remote_object]
    pub trait Counter: ::core::marker::Send + ::core::marker::Sync {
        fn next(&self) -> u64;
    }

    #[::remote::remote_object]
    pub trait Store: ::core::marker::Send + ::core::marker::Sync {
        fn put(&self, key: &str, value: ::std::vec::Vec<u8>) -> bool;
        fn get(&self, key: &str) -> ::core::option::Option<::std::vec::Vec<u8>>;
        fn sum(&self, values: &[u64]) -> u64;
        fn pair(&self, pair: (u8, ::std::string::String)) -> (::std::string::String, u8);
        fn counter(&self) -> ::remote::Remote<dyn Counter>;
        fn maybe_counter(&self) -> ::core::option::Option<::remote::Remote<dyn Counter>>;
        fn try_counter(&self) -> ::core::result::Result<::remote::Remote<dyn Counter>, u8>;
        fn read(&self, counter: ::remote::Remote<dyn Counter>) -> u64;
        fn nothing(&self);
    }

    /// Every method returns `Result<_, E>`: the proxy implements the trait.
    #[::remote::remote_object]
    pub trait Fallible: ::core::marker::Send + ::core::marker::Sync {
        fn check(&self, value: u32) -> ::core::result::Result<u32, Error>;
    }

    #[derive(Debug, PartialEq)]
    pub struct Error(pub ::std::string::String);

    impl ::serde::Serialize for Error {
        fn serialize<S: ::serde::Serializer>(
            &self,
            s: S,
        ) -> ::core::result::Result<S::Ok, S::Error> {
            ::serde::Serialize::serialize(&self.0, s)
        }
    }

    impl<'de> ::serde::Deserialize<'de> for Error {
        fn deserialize<D: ::serde::Deserializer<'de>>(
            d: D,
        ) -> ::core::result::Result<Self, D::Error> {
            ::core::result::Result::map(
                <::std::string::String as ::serde::Deserialize<'de>>::deserialize(d),
                Error,
            )
        }
    }

    impl ::core::convert::From<::remote::RemoteError> for Error {
        fn from(e: ::remote::RemoteError) -> Self {
            Error(::std::string::ToString::to_string(&e))
        }
    }

    pub struct Count(pub ::std::sync::atomic::AtomicU64);

    impl Counter for Count {
        fn next(&self) -> u64 {
            self.0.fetch_add(1, ::std::sync::atomic::Ordering::SeqCst)
        }
    }

    pub struct Impl(
        pub  ::std::sync::Mutex<
            ::std::collections::BTreeMap<::std::string::String, ::std::vec::Vec<u8>>,
        >,
    );

    fn counter(start: u64) -> ::remote::Remote<dyn Counter> {
        ::remote::Remote::new(Count(::std::sync::atomic::AtomicU64::new(start)))
    }

    impl Store for Impl {
        fn put(&self, key: &str, value: ::std::vec::Vec<u8>) -> bool {
            let key = ::std::borrow::ToOwned::to_owned(key);
            ::core::option::Option::is_none(&self.0.lock().unwrap().insert(key, value))
        }
        fn get(&self, key: &str) -> ::core::option::Option<::std::vec::Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn sum(&self, values: &[u64]) -> u64 {
            ::core::iter::Iterator::sum(values.iter())
        }
        fn pair(&self, (n, s): (u8, ::std::string::String)) -> (::std::string::String, u8) {
            (s, n)
        }
        fn counter(&self) -> ::remote::Remote<dyn Counter> {
            counter(10)
        }
        fn maybe_counter(&self) -> ::core::option::Option<::remote::Remote<dyn Counter>> {
            ::core::option::Option::Some(counter(20))
        }
        fn try_counter(&self) -> ::core::result::Result<::remote::Remote<dyn Counter>, u8> {
            ::core::result::Result::Ok(counter(30))
        }
        fn read(&self, counter: ::remote::Remote<dyn Counter>) -> u64 {
            counter.into_proxy().next().unwrap()
        }
        fn nothing(&self) {}
    }

    pub struct Checker;

    impl Fallible for Checker {
        fn check(&self, value: u32) -> ::core::result::Result<u32, Error> {
            if value == 0 {
                ::core::result::Result::Err(Error(::std::string::ToString::to_string("zero")))
            } else {
                ::core::result::Result::Ok(value)
            }
        }
    }

    #[::core::prelude::v1::test]
    fn calls_through_an_in_process_client() {
        let server = ::remote::Server::new();
        let store = Impl(::std::sync::Mutex::new(::std::collections::BTreeMap::new()));
        server.export(
            "store",
            ::std::sync::Arc::new(store) as ::std::sync::Arc<dyn Store>,
        );
        server.export(
            "fallible",
            ::std::sync::Arc::new(Checker) as ::std::sync::Arc<dyn Fallible>,
        );
        let client = ::remote::Client::in_process(&server).unwrap();

        let store: StoreProxy = client.require("store").unwrap();
        ::std::assert!(store.put("a", ::std::vec![1, 2]).unwrap());
        ::std::assert_eq!(
            store.get("a").unwrap(),
            ::core::option::Option::Some(::std::vec![1, 2])
        );
        ::std::assert_eq!(store.sum(&[1, 2, 3]).unwrap(), 6);
        let s = ::std::string::ToString::to_string("x");
        ::std::assert_eq!(store.pair((1, s)).unwrap().1, 1);
        let c: CounterProxy = store.counter().unwrap();
        ::std::assert_eq!(c.next().unwrap(), 10);
        ::std::assert_eq!(store.maybe_counter().unwrap().unwrap().next().unwrap(), 20);
        ::std::assert_eq!(store.try_counter().unwrap().unwrap().next().unwrap(), 30);
        ::std::assert_eq!(store.read(&c).unwrap(), 11);
        store.nothing().unwrap();

        let async_store: StoreAsyncProxy = store.to_async();
        let got = ::futures::executor::block_on(async_store.sum(&[4, 5]));
        ::std::assert_eq!(got.unwrap(), 9);

        let fallible: FallibleProxy = client.require("fallible").unwrap();
        let as_dyn: &dyn Fallible = &fallible;
        ::std::assert_eq!(as_dyn.check(3), ::core::result::Result::Ok(3));
        ::std::assert!(::core::result::Result::is_err(&as_dyn.check(0)));
    }
}

/// The prelude's names, shadowed by local items of the same names.
#[allow(dead_code, non_snake_case, clippy::all)]
mod shadowed {
    use ::std::sync::atomic::{AtomicU64, Ordering};

    pub struct Result;
    pub struct Option;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub struct Arc;
    pub struct Clone;
    pub struct From;
    pub struct Into;
    pub struct ToString;
    pub struct Any;
    pub struct Debug;
    pub struct Default;
    pub struct Iterator;
    pub struct Fn;
    pub fn Ok() {}
    pub fn Err() {}
    pub fn Some() {}
    #[allow(non_upper_case_globals)]
    pub const None: () = ();
    pub mod fmt {}
    pub mod core {}
    pub mod std {}
    pub mod serde {}
    pub mod remote_runtime {}
    pub mod __private {}

    #[remote::remote_object]
    pub trait Counter: Send + Sync {
        fn next(&self) -> u64;
    }

    #[remote::remote_object]
    pub trait Shadowed: Send + Sync {
        fn greet(&self, name: &str) -> ::std::string::String;
        fn sum(&self, values: &[u64]) -> u64;
        fn get(&self, key: u8) -> ::std::option::Option<::std::vec::Vec<u8>>;
        fn counter(&self) -> remote::Remote<dyn Counter>;
        fn maybe_counter(&self) -> ::std::option::Option<remote::Remote<dyn Counter>>;
        fn try_counter(&self) -> ::std::result::Result<remote::Remote<dyn Counter>, u8>;
        fn read(&self, counter: remote::Remote<dyn Counter>) -> u64;
    }

    /// Every method returns `Result<_, E>`: the proxy implements the trait.
    #[remote::remote_object]
    pub trait Fallible: Send + Sync {
        fn check(&self, value: u32) -> ::std::result::Result<u32, Error>;
    }

    #[derive(Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
    pub struct Error(pub u8);

    impl ::std::convert::From<remote::RemoteError> for Error {
        fn from(_: remote::RemoteError) -> Self {
            Error(u8::MAX)
        }
    }

    pub struct Count(AtomicU64);

    impl Counter for Count {
        fn next(&self) -> u64 {
            self.0.fetch_add(1, Ordering::SeqCst)
        }
    }

    fn counter(start: u64) -> remote::Remote<dyn Counter> {
        remote::Remote::new(Count(AtomicU64::new(start)))
    }

    pub struct Impl;

    impl Shadowed for Impl {
        fn greet(&self, name: &str) -> ::std::string::String {
            format!("hello, {name}")
        }
        fn sum(&self, values: &[u64]) -> u64 {
            values.iter().sum()
        }
        fn get(&self, key: u8) -> ::std::option::Option<::std::vec::Vec<u8>> {
            (key == 1).then(|| vec![1])
        }
        fn counter(&self) -> remote::Remote<dyn Counter> {
            counter(10)
        }
        fn maybe_counter(&self) -> ::std::option::Option<remote::Remote<dyn Counter>> {
            ::std::option::Option::Some(counter(20))
        }
        fn try_counter(&self) -> ::std::result::Result<remote::Remote<dyn Counter>, u8> {
            ::std::result::Result::Ok(counter(30))
        }
        fn read(&self, counter: remote::Remote<dyn Counter>) -> u64 {
            counter.into_proxy().next().unwrap()
        }
    }

    pub struct Checker;

    impl Fallible for Checker {
        fn check(&self, value: u32) -> ::std::result::Result<u32, Error> {
            if value == 0 {
                ::std::result::Result::Err(Error(0))
            } else {
                ::std::result::Result::Ok(value)
            }
        }
    }

    #[test]
    fn calls_through_an_in_process_client() {
        let server = remote::Server::new();
        server.export(
            "s",
            ::std::sync::Arc::new(Impl) as ::std::sync::Arc<dyn Shadowed>,
        );
        server.export(
            "f",
            ::std::sync::Arc::new(Checker) as ::std::sync::Arc<dyn Fallible>,
        );
        let client = remote::Client::in_process(&server).unwrap();

        let s: ShadowedProxy = client.require("s").unwrap();
        assert_eq!(s.greet("Ada").unwrap(), "hello, Ada");
        assert_eq!(s.sum(&[1, 2, 3]).unwrap(), 6);
        assert_eq!(s.get(1).unwrap(), ::std::option::Option::Some(vec![1]));
        let c: CounterProxy = s.counter().unwrap();
        assert_eq!(c.next().unwrap(), 10);
        assert_eq!(s.maybe_counter().unwrap().unwrap().next().unwrap(), 20);
        assert_eq!(s.try_counter().unwrap().unwrap().next().unwrap(), 30);
        assert_eq!(s.read(&c).unwrap(), 11);
        let a: ShadowedAsyncProxy = s.to_async();
        assert_eq!(futures::executor::block_on(a.sum(&[4, 5])).unwrap(), 9);

        let f: FallibleProxy = client.require("f").unwrap();
        let as_dyn: &dyn Fallible = &f;
        assert_eq!(as_dyn.check(3), ::std::result::Result::Ok(3));
        assert!(as_dyn.check(0).is_err());
    }
}
