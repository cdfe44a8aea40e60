//! # Dynamic batching: one queue, one model, one compute thread
//!
//! A matrix multiplication of 32 rows costs far less than 32 of one row (the weights are read
//! once), so a server that runs requests one by one wastes most of the CPU under load. The
//! handlers therefore do not call the model: they tokenize (on the I/O threads), put a
//! [`Job`] in a bounded [`Queue`] and wait. One compute thread loops:
//!
//! 1. wait for the first job; then keep collecting until the queued jobs hold
//!    `max_batch_tokens` tokens or the first job has waited `max_wait` (0 by default: take
//!    what queued up while the model was busy — under load that is a full batch, when idle it
//!    is one request, which then pays no wait at all);
//! 2. skip jobs whose client went away (their answer channel is closed);
//! 3. hand the batch to the [`Engine`](super::engine::Engine), which sorts all its texts by
//!    length and cuts them into model calls of at most `max_batch_tokens` padded tokens, so
//!    short texts are not padded to long ones (length bucketing), runs the encoder (which
//!    spreads each call over the rayon pool) and the per-task heads, and answers each job
//!    through its own channel.
//!
//! The queue is bounded in texts: [`Queue::push`] refuses at once when it is full, so the
//! handler answers 429 instead of letting the client time out.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::metrics::Metrics;
use nanobert::pipeline::MaskPrediction;

/// One tokenized text `[CLS] ... [SEP]` or pair `[CLS] a [SEP] b [SEP]`, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seq {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// Segment ids (0 for single texts; 0 then 1 for pairs).
    pub type_ids: Vec<u32>,
}

/// What to compute for a job's texts once the encoder has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// One pooled vector per text, cut to `dims` values (Matryoshka), then scaled to unit
    /// length when `normalize`.
    Embed {
        /// Divide by the L2 norm (after the cut).
        normalize: bool,
        /// Keep the first this-many values; `None`: all.
        dims: Option<usize>,
        /// Tokens of the prompt the texts start with (`[CLS]` included) that the pooling leaves
        /// out (sentence-transformers' `include_prompt: false`); `None`: pool every token.
        prompt_tokens: Option<usize>,
    },
    /// The `top_k` candidates at every `[MASK]` (id `mask_id`) of every text.
    FillMask {
        /// Candidates per mask.
        top_k: usize,
        /// The tokenizer's `[MASK]` id.
        mask_id: u32,
    },
    /// The sequence-classification head's logits (`[num_labels]` per text or pair).
    Classify,
    /// Every token's last hidden state (`[tokens][hidden]` per text), `[CLS]`/`[SEP]` included.
    EmbedAll,
}

/// A job's answer: one entry per text, in the order of the request.
#[derive(Clone, Debug)]
pub enum Output {
    /// `[texts][hidden]`.
    Embeddings(Vec<Vec<f32>>),
    /// `[texts][masks]`.
    FillMask(Vec<Vec<MaskPrediction>>),
    /// `[texts][num_labels]`, raw (the handler turns them into scores).
    Logits(Vec<Vec<f32>>),
    /// `[texts][tokens][hidden]`.
    Tokens(Vec<Vec<Vec<f32>>>),
}

/// The compute thread's answer to a job: its output, or an error message for a 500.
pub type Reply = std::result::Result<Output, String>;

/// A request waiting for the model.
pub struct Job {
    /// Its texts, tokenized.
    pub seqs: Vec<Seq>,
    /// What to compute.
    pub task: Task,
    /// Where the answer goes; closed when the client disconnected.
    pub reply: oneshot::Sender<Reply>,
    /// When it was queued.
    pub enqueued: Instant,
    /// Set by [`Queue::push`]; names the job for [`Queue::cancel`].
    pub id: u64,
}

impl Job {
    /// Real tokens in the job.
    pub fn tokens(&self) -> usize {
        self.seqs.iter().map(|s| s.ids.len()).sum()
    }
}

/// Why [`Queue::push`] refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds `capacity` texts already (answer 429).
    Full {
        /// The queue's capacity in texts.
        capacity: usize,
    },
    /// The server is shutting down (answer 503).
    Closed,
}

struct Inner {
    jobs: VecDeque<Job>,
    texts: usize,
    closed: bool,
    /// Shutting down: batch what is there without waiting for more.
    draining: bool,
    next_id: u64,
}

/// The bounded queue between the handlers and the compute thread (a mutex and a condition
/// variable: the handlers only hold the lock for a push).
pub struct Queue {
    inner: Mutex<Inner>,
    ready: Condvar,
    capacity: usize,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// A queue that holds at most `capacity` texts (a job larger than that is still accepted
    /// into an empty queue, so a request within the per-request limits can always run).
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Queue {
        Queue {
            inner: Mutex::new(Inner { jobs: VecDeque::new(), texts: 0, closed: false, draining: false, next_id: 0 }),
            ready: Condvar::new(),
            capacity,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue inconsistent (every update
        // is a single push/pop plus a counter), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` and returns its id, or refuses at once (never blocks on a full queue).
    pub fn push(&self, mut job: Job) -> std::result::Result<u64, (Refused, Job)> {
        let mut q = self.lock();
        if q.closed {
            return Err((Refused::Closed, job));
        }
        let n = job.seqs.len();
        if q.texts > 0 && q.texts + n > self.capacity {
            return Err((Refused::Full { capacity: self.capacity }, job));
        }
        q.texts += n;
        job.id = q.next_id;
        q.next_id += 1;
        let id = job.id;
        self.metrics.queue_texts.store(q.texts as u64, std::sync::atomic::Ordering::Relaxed);
        q.jobs.push_back(job);
        drop(q);
        self.ready.notify_one();
        Ok(id)
    }

    /// Removes job `id` if it is still waiting (its client went away), freeing its place at
    /// once. Returns whether it was removed (false: already taken by the batcher, or unknown).
    pub fn cancel(&self, id: u64) -> bool {
        let mut q = self.lock();
        let Some(pos) = q.jobs.iter().position(|j| j.id == id) else { return false };
        if let Some(job) = q.jobs.remove(pos) {
            q.texts -= job.seqs.len();
            self.metrics.queue_texts.store(q.texts as u64, std::sync::atomic::Ordering::Relaxed);
            self.metrics.cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        true
    }

    /// Texts waiting right now.
    pub fn len_texts(&self) -> usize {
        self.lock().texts
    }

    /// From now on batches never wait to fill (shutdown has begun; jobs are still accepted
    /// until [`Queue::close`]).
    pub fn drain(&self) {
        self.lock().draining = true;
        self.ready.notify_all();
    }

    /// Stops accepting jobs; the compute thread finishes what is queued, then exits.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next batch (see the module docs), or `None` once closed and drained.
    pub fn next_batch(&self, max_tokens: usize, max_wait: Duration) -> Option<Vec<Job>> {
        let mut q = self.lock();
        loop {
            while q.jobs.is_empty() {
                if q.closed {
                    return None;
                }
                q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            // Wait for more work while the batch is not full and the oldest job may still wait.
            let deadline = q.jobs[0].enqueued + max_wait;
            loop {
                let queued: usize = q.jobs.iter().map(Job::tokens).sum();
                let now = Instant::now();
                if queued >= max_tokens || now >= deadline || q.closed || q.draining {
                    break;
                }
                q = self.ready.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
            let mut batch = Vec::new();
            let mut tokens = 0;
            while let Some(job) = q.jobs.front() {
                let t = job.tokens();
                if !batch.is_empty() && tokens + t > max_tokens {
                    break;
                }
                let job = q.jobs.pop_front().expect("front exists");
                q.texts -= job.seqs.len();
                if job.reply.is_closed() {
                    self.metrics.cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                tokens += t;
                batch.push(job);
            }
            self.metrics.queue_texts.store(q.texts as u64, std::sync::atomic::Ordering::Relaxed);
            if !batch.is_empty() {
                return Some(batch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: usize, len: usize) -> (Job, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let seq = Seq { ids: vec![1; len], type_ids: vec![0; len] };
        (
            Job {
                seqs: vec![seq; n],
                task: Task::Embed { normalize: true, dims: None, prompt_tokens: None },
                reply: tx,
                enqueued: Instant::now(),
                id: 0,
            },
            rx,
        )
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_a_closed_one_refuses_too() {
        let q = Queue::new(4, Arc::new(Metrics::default()));
        let (a, _ra) = job(3, 5);
        assert!(q.push(a).is_ok());
        let (b, _rb) = job(2, 5);
        assert_eq!(q.push(b).err().map(|e| e.0), Some(Refused::Full { capacity: 4 }));
        let (c, _rc) = job(1, 5);
        let Ok(id) = q.push(c) else { panic!("push refused") };
        assert_eq!(q.len_texts(), 4);
        assert!(q.cancel(id), "a queued job can be cancelled");
        assert!(!q.cancel(id), "but only once");
        assert_eq!(q.len_texts(), 3);
        let (c, _rc) = job(1, 5);
        assert!(q.push(c).is_ok(), "the cancelled job's place is free again");
        q.close();
        let (d, _rd) = job(1, 5);
        assert_eq!(q.push(d).err().map(|e| e.0), Some(Refused::Closed));
        // Closed, but what was queued is still handed out, then None.
        let batch = q.next_batch(1000, Duration::ZERO).unwrap();
        assert_eq!(batch.len(), 2);
        assert!(q.next_batch(1000, Duration::ZERO).is_none());
    }

    #[test]
    fn batches_stop_at_the_token_budget_and_skip_cancelled_jobs() {
        let m = Arc::new(Metrics::default());
        let q = Queue::new(100, m.clone());
        let (a, _ra) = job(1, 10);
        let (b, rb) = job(1, 10);
        let (c, _rc) = job(1, 10);
        let (d, _rd) = job(1, 10);
        for j in [a, b, c, d] {
            assert!(q.push(j).is_ok());
        }
        drop(rb); // this client went away
        let first = q.next_batch(25, Duration::ZERO).unwrap();
        assert_eq!(first.len(), 2, "a, then b is skipped, then c; d would pass the budget");
        assert_eq!(m.cancelled.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(q.next_batch(25, Duration::ZERO).unwrap().len(), 1);
    }
}
