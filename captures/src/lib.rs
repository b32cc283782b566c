//! Captures: pcap and pcapng files turned into the byte streams the decoder reads.
