//! [`NatsSink`]: the [`RecordSink`] that publishes each output line to
//! JetStream. Lines are collected during a batch; `commit` publishes them
//! and returns once the stream has acknowledged all of them.

use super::stream::{NatsStream, Outgoing};
use super::NatsError;
use crate::crash::crash_point;
use crate::output::{erased, OutputError, Position, RecordSink};
use bytes::Bytes;
use serde::Deserialize;

/// Output lines published to a JetStream stream, each with its violation's
/// id as `Nats-Msg-Id`.
pub struct NatsSink {
    stream: NatsStream,
    batch: Vec<Outgoing>,
    /// Lines acknowledged by the stream, counting from where the output
    /// resumed: what a checkpoint records as the output's position.
    acked: u64,
    /// Of those, lines the stream already held.
    duplicates: u64,
    line: Vec<u8>,
}

/// The part of an output record that names it: `{"violation": {"id": ...}}`.
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    violation: Id<'a>,
}

#[derive(Deserialize)]
struct Id<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

impl NatsSink {
    /// A sink over `stream`; `resumed` is the position a checkpoint recorded
    /// (nothing is cut back: the stream drops what it already holds).
    pub fn new(stream: NatsStream, resumed: u64) -> NatsSink {
        NatsSink {
            stream,
            batch: Vec::new(),
            acked: resumed,
            duplicates: 0,
            line: Vec::new(),
        }
    }

    /// Lines the stream recognised as already held, since this sink opened.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

impl RecordSink for NatsSink {
    fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError> {
        self.line.clear();
        line.write_json(&mut self.line)
            .map_err(|e| NatsError::Stream {
                target: self.stream.to_string(),
                detail: format!("a line does not serialise: {e}"),
            })?;
        let id = serde_json::from_slice::<Named>(&self.line)
            .map_err(|_| NatsError::NoId)?
            .violation
            .id
            .into_owned();
        self.batch.push(Outgoing {
            id,
            payload: Bytes::copy_from_slice(&self.line),
        });
        Ok(())
    }

    fn commit(&mut self) -> Result<Position, OutputError> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            let total = batch.len();
            let published = self.stream.publish(batch)?;
            self.acked += published.acked as u64;
            self.duplicates += published.duplicates as u64;
            if published.duplicates > 0 {
                tracing::info!(
                    stream = self.stream.stream_name(),
                    duplicates = published.duplicates,
                    of = total,
                    "the stream already held some lines (sent again after an interruption) \
                     and kept each once"
                );
            }
            // Published and acknowledged, not yet checkpointed: a rerun
            // sends the batch again and the stream drops it.
            crash_point("after-publish");
        }
        Ok(Position {
            file: None,
            offset: self.acked,
        })
    }
}
