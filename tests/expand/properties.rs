// Enumerable properties: a snapshot struct, getters that read it, refresh().
#[remote_object]
pub trait Window: Send + Sync {
    /// The title bar's text.
    #[property]
    fn title(&self) -> String;
    #[property]
    fn size(&self) -> (u32, u32);
    fn close(&self);
}
