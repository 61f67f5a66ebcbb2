//! Kept answers: promise pipelining, on the side that serves the calls.
//!
//! A call that returns one object can be sent with `keep`. Its ID then
//! names "the object this call answers with" until the caller's `Finish`:
//! calls sent to [`To::Answer`](crate::wire::To::Answer) before the answer
//! reached the caller wait here, and run, in arrival order, the moment the
//! kept call completes. When it fails, they fail with its error.
//!
//! An answer holds its object (a message in flight names it, in effect)
//! from the kept call's completion until the `Finish`, which the caller
//! sends once no call of its can still name it. The table is bounded: a
//! peer that keeps more answers, or queues more calls on them, than the
//! limit gets `LimitExceeded` on those calls.

use std::collections::HashMap;

use crate::RemoteError;

/// What a kept call's ID stands for.
#[derive(Debug)]
enum Answer<O, C> {
    /// The call has not completed: calls sent to it wait, in order.
    /// `finished`: the peer's `Finish` came first; the answer is forgotten
    /// as soon as it settles.
    Pending { queued: Vec<C>, finished: bool },
    /// It answered with this object (export `id`).
    Resolved { id: u64, object: O },
    /// It failed (or answered with no single object of ours).
    Failed(RemoteError),
}

/// Where a call sent to a kept answer goes now.
#[derive(Debug)]
pub(crate) enum Route<O, C> {
    /// To this object, at once.
    Run { id: u64, object: O, call: C },
    /// Nowhere: it is answered with this error.
    Refuse { call: C, error: RemoteError },
    /// It waits for the answer (nothing to do now).
    Wait,
}

/// The kept answers of one connection.
#[derive(Debug)]
pub(crate) struct Answers<O, C> {
    table: HashMap<u64, Answer<O, C>>,
    queued: usize,
    limit: usize,
}

impl<O: Clone, C> Answers<O, C> {
    /// A table of at most `limit` answers and `limit` waiting calls.
    pub(crate) fn new(limit: usize) -> Self {
        Answers {
            table: HashMap::new(),
            queued: 0,
            limit,
        }
    }

    /// Answers kept now.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Starts keeping the answer of the peer's call `id`. Over the limit
    /// it is not kept (`Err` says why): calls sent to it are refused.
    pub(crate) fn keep(&mut self, id: u64) -> Result<(), RemoteError> {
        if self.table.len() >= self.limit {
            return Err(RemoteError::LimitExceeded {
                what: "kept answers (pipelined calls) on this connection".into(),
                limit: self.limit as u64,
            });
        }
        self.table.insert(
            id,
            Answer::Pending {
                queued: Vec::new(),
                finished: false,
            },
        );
        Ok(())
    }

    /// Where `call`, sent to the answer of call `to`, goes.
    pub(crate) fn route(&mut self, to: u64, call: C) -> Route<O, C> {
        match self.table.get_mut(&to) {
            Some(Answer::Pending { queued, .. }) => {
                if self.queued >= self.limit {
                    return Route::Refuse {
                        call,
                        error: RemoteError::LimitExceeded {
                            what: "calls waiting on kept answers on this connection".into(),
                            limit: self.limit as u64,
                        },
                    };
                }
                queued.push(call);
                self.queued += 1;
                Route::Wait
            }
            Some(Answer::Resolved { id, object }) => Route::Run {
                id: *id,
                object: object.clone(),
                call,
            },
            Some(Answer::Failed(error)) => Route::Refuse {
                call,
                error: error.clone(),
            },
            None => Route::Refuse {
                call,
                error: RemoteError::Pipeline {
                    reason: format!(
                        "it named the answer of call {to}, which the peer does not keep: never kept, finished, or over its limit of {} kept answers",
                        self.limit
                    ),
                },
            },
        }
    }

    /// Call `id` completed with `outcome` (the object it answered with, or
    /// why it has none). Returns the calls that waited on it, in arrival
    /// order, each with where it goes now; nothing when `id` was not kept.
    pub(crate) fn settle(
        &mut self,
        id: u64,
        outcome: Result<(u64, O), RemoteError>,
    ) -> Vec<Route<O, C>> {
        let Some(Answer::Pending { queued, finished }) = self.table.remove(&id) else {
            return Vec::new();
        };
        self.queued -= queued.len();
        let routes = queued
            .into_iter()
            .map(|call| match &outcome {
                Ok((id, object)) => Route::Run {
                    id: *id,
                    object: object.clone(),
                    call,
                },
                Err(error) => Route::Refuse {
                    call,
                    error: error.clone(),
                },
            })
            .collect();
        if !finished {
            let answer = match outcome {
                Ok((id, object)) => Answer::Resolved { id, object },
                Err(error) => Answer::Failed(error),
            };
            self.table.insert(id, answer);
        }
        routes
    }

    /// The peer will not name answer `id` again. Returns the object it
    /// held, to drop outside any lock.
    pub(crate) fn finish(&mut self, id: u64) -> Option<O> {
        match self.table.get_mut(&id) {
            Some(Answer::Pending { finished, .. }) => {
                *finished = true;
                None
            }
            Some(_) => match self.table.remove(&id) {
                Some(Answer::Resolved { object, .. }) => Some(object),
                _ => None,
            },
            None => None,
        }
    }

    /// Forgets everything (the connection closed): the objects held and
    /// the calls that waited, to drop outside any lock.
    pub(crate) fn drain(&mut self) -> (Vec<O>, Vec<C>) {
        let mut objects = Vec::new();
        let mut calls = Vec::new();
        for (_, answer) in self.table.drain() {
            match answer {
                Answer::Pending { queued, .. } => calls.extend(queued),
                Answer::Resolved { object, .. } => objects.push(object),
                Answer::Failed(_) => {}
            }
        }
        self.queued = 0;
        (objects, calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_wait_for_the_answer_then_run_in_order() {
        let mut a = Answers::<&str, u32>::new(8);
        a.keep(1).unwrap();
        assert!(matches!(a.route(1, 10), Route::Wait));
        assert!(matches!(a.route(1, 11), Route::Wait));
        let routes = a.settle(1, Ok((5, "obj")));
        let ran: Vec<u32> = routes
            .into_iter()
            .map(|r| match r {
                Route::Run {
                    id: 5,
                    object: "obj",
                    call,
                } => call,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ran, [10, 11]);
        assert!(matches!(a.route(1, 12), Route::Run { call: 12, .. }));
        assert_eq!(a.finish(1), Some("obj"));
        assert!(matches!(a.route(1, 13), Route::Refuse { call: 13, .. }));
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn a_failed_answer_fails_what_waits_and_what_comes_later() {
        let mut a = Answers::<&str, u32>::new(8);
        a.keep(2).unwrap();
        assert!(matches!(a.route(2, 1), Route::Wait));
        let routes = a.settle(2, Err(RemoteError::Disconnected));
        assert!(matches!(
            routes.as_slice(),
            [Route::Refuse {
                call: 1,
                error: RemoteError::Disconnected
            }]
        ));
        assert!(matches!(
            a.route(2, 3),
            Route::Refuse {
                error: RemoteError::Disconnected,
                ..
            }
        ));
        assert_eq!(a.finish(2), None);
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn a_finish_before_the_answer_forgets_it_once_settled() {
        let mut a = Answers::<&str, u32>::new(8);
        a.keep(3).unwrap();
        assert!(matches!(a.route(3, 1), Route::Wait));
        assert_eq!(a.finish(3), None);
        let routes = a.settle(3, Ok((9, "obj")));
        assert_eq!(routes.len(), 1, "what waited still runs");
        assert_eq!(a.len(), 0, "and nothing is kept");
    }

    #[test]
    fn the_table_and_its_queue_are_bounded() {
        let mut a = Answers::<&str, u32>::new(2);
        a.keep(1).unwrap();
        a.keep(2).unwrap();
        assert!(matches!(a.keep(3), Err(RemoteError::LimitExceeded { .. })));
        assert!(matches!(
            a.route(3, 0),
            Route::Refuse {
                error: RemoteError::Pipeline { .. },
                ..
            }
        ));
        assert_eq!(a.len(), 2, "what was refused is not kept");
        assert!(matches!(a.route(1, 1), Route::Wait));
        assert!(matches!(a.route(2, 2), Route::Wait));
        assert!(matches!(
            a.route(1, 3),
            Route::Refuse {
                error: RemoteError::LimitExceeded { .. },
                ..
            }
        ));
        let (objects, calls) = a.drain();
        assert!(objects.is_empty());
        assert_eq!(calls.len(), 2);
    }
}
