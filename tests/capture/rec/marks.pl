#!/usr/bin/perl
# marks.pl — tiny mark extractor for the recorder tests (the real parser is l3-agent's).
# Usage: marks.pl NONCE FILE.script   prints one line per valid private mark:
#   VERB<TAB>arg1<TAB>arg2...   with arguments percent-decoded, newlines shown as \n.
# Marks with another nonce are not printed (they are plain output); nest marks are
# printed as "nest<TAB>begin|end<TAB>id".
use strict; use warnings;
my ($nonce, $file) = @ARGV;
open(my $fh, '<:raw', $file) or die "marks.pl: $file: $!\n";
local $/; my $data = <$fh>;
while ($data =~ /\e\]6973;([^\a\e]*)(?:\a|\e\\)/g) {
    my @f = split /;/, $1, -1;
    my $who = shift @f;
    if ($who eq 'nest') { print join("\t", 'nest', @f), "\n"; next; }
    next unless defined $nonce && $who eq $nonce;
    for (@f) { s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; s/\\/\\\\/g; s/\n/\\n/g; }
    print join("\t", @f), "\n";
}
