//! What people look at rather than read: a table of connections, each one's ladder diagram
//! drawn as SVG with its findings beside it, and counts of findings over time.
//!
//! Two front ends share one page ([`page`]): the offline HTML report that `iotscope replay
//! --html` writes ([`report`]), with every connection's data inlined, and the live view that
//! `iotscope proxy --web` serves ([`live`]), fed as connections open and close. Both are
//! [`iotscope_report::Watch`]es: they see the connections the text and JSON reports see, with
//! the same findings. The ladder ([`ladder`]) and the chart ([`chart`]) are drawn here, in
//! Rust, once; the page's script only shows, filters and sorts what it is given.

pub mod chart;
pub mod detail;
pub mod escape;
pub mod ladder;
pub mod live;
pub mod page;
pub mod report;
pub mod row;
