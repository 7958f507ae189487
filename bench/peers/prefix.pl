# The prefix half of a socat/ncat echo server: copy stdin to stdout, putting
# the prefix (given in hex, so no shell or socat quoting can mangle it) before
# every chunk read — what sockdemo's tcp-server does for each chunk.
#   socat TCP4-LISTEN:0,fork SYSTEM:'exec perl bench/peers/prefix.pl 5265636569766520'
$| = 1;
binmode STDIN;
binmode STDOUT;
my $prefix = pack("H*", $ARGV[0] // "");
while (sysread(STDIN, my $chunk, 65536)) {
  my $out = $prefix . $chunk;
  while (length $out) {
    my $n = syswrite(STDOUT, $out);
    die "write: $!" unless defined $n;
    substr($out, 0, $n) = "";
  }
}
