// Handles in arguments and inside Option/Result returns; a slice argument.
#[remote_object]
pub(crate) trait Registry: Send + Sync {
    fn register(&self, counter: Remote<dyn Counter>, tags: &[String]);
    fn find(&self, name: String) -> Option<Remote<dyn Counter>>;
    fn open(&self, name: String) -> Result<Remote<dyn Counter>, NotFound>;
}
