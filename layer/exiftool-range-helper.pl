#!/usr/bin/env perl
# exiftool-range-helper: a long-lived Image::ExifTool process whose file reads are answered by its
# parent over pipes, so the parent can serve them with ranged S3 GETs (only the bytes exiftool needs).
#
# Protocol (all lines end in "\n"; lengths are byte counts; stdin/stdout are binary):
#   parent -> helper   request line, JSON:
#                        {"op":"read","size":N,"numeric":["Orientation",...],"fast":1,"block":32768}
#                        {"op":"preview","size":N,"tags":["JpgFromRaw","PreviewImage",...]}
#                        {"op":"ping"}
#   helper -> parent   "R <offset> <length>"     read request (any number of them, one at a time)
#   parent -> helper   "D <n>" + n bytes         the data (n < length only at end of object)
#                      "E <n>" + n bytes         the read failed: message; the request fails
#   helper -> parent   "J <n>" + n bytes         result of "read": JSON object of tags
#                      "B <n>" + n bytes         result of "preview": the image (n = 0: none)
#                      "P 0"                     result of "ping"
#                      "X <n>" + n bytes         the request failed: message
# One request at a time; the helper is ready for the next one after J/B/P/X.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use Image::ExifTool;
use JSON::PP;
use Symbol ();

binmode STDIN;
binmode STDOUT;
$| = 1;

# Size of the aligned window asked for at a time; the parent's block size, sent with each request.
our $BLOCK = 32768;
# WebP: exiftool reads a whole VP8/VP8L chunk (the compressed image) to parse its 10-byte frame
# header. Serve the start of such a chunk and zeros for the rest, which exiftool never looks at.
our $VP8_HEAD = 4096;

package RemoteHandle;
# A tied filehandle over the parent's byte server, with one aligned window of buffered bytes so the
# many small reads exiftool makes cost one round trip per window, not one per read.

sub TIEHANDLE {
    my ($class, $size) = @_;
    return bless { size => $size, pos => 0, win_start => 0, win => '', failed => undef, webp => 0 }, $class;
}

# True when the read at the current position is exactly the payload of a VP8/VP8L chunk whose
# 8-byte header (fourcc + little-endian length) was just read through the window.
sub at_vp8_payload {
    my ($self, $len) = @_;
    return 0 unless $self->{webp} and $len > $VP8_HEAD;
    my $rel = $self->{pos} - 8 - $self->{win_start};
    return 0 if $rel < 0 or $rel + 8 > length($self->{win});
    my ($fourcc, $chunk_len) = unpack('a4 V', substr($self->{win}, $rel, 8));
    return ($fourcc eq 'VP8 ' or $fourcc eq 'VP8L') && ($chunk_len == $len || $chunk_len + 1 == $len);
}

sub fetch {
    my ($self, $offset, $length) = @_;
    print STDOUT "R $offset $length\n";
    my $line = <STDIN>;
    die "parent closed the pipe\n" unless defined $line;
    my ($kind, $n) = $line =~ /^([DE]) (\d+)$/ or die "bad reply from parent: $line";
    my $data = '';
    while (length($data) < $n) {
        my $got = read(STDIN, $data, $n - length($data), length($data));
        die "parent closed the pipe\n" unless $got;
    }
    if ($kind eq 'E') {
        $self->{failed} = $data;
        die "read failed: $data\n";
    }
    return $data;
}

sub ensure {
    my ($self, $len) = @_;
    my $pos = $self->{pos};
    my $win_end = $self->{win_start} + length($self->{win});
    return if $pos >= $self->{win_start} && $pos + $len <= $win_end;
    return if $pos >= $self->{size};
    my $start = $pos - ($pos % $BLOCK);
    my $end = $pos + $len;
    $end = $end + ($BLOCK - $end % $BLOCK) % $BLOCK;
    $end = $self->{size} if $end > $self->{size};
    $self->{win_start} = $start;
    $self->{win} = $self->fetch($start, $end - $start);
}

sub READ {
    my ($self, undef, $len, $offset) = @_;
    $offset ||= 0;
    my $bufref = \$_[1];
    $$bufref = '' unless defined $$bufref;
    $len = $self->{size} - $self->{pos} if $self->{pos} + $len > $self->{size};
    $len = 0 if $len < 0;
    my $data = '';
    if ($len > 0 and $self->at_vp8_payload($len)) {
        $self->ensure($VP8_HEAD);
        $data = substr($self->{win}, $self->{pos} - $self->{win_start}, $VP8_HEAD) . ("\0" x ($len - $VP8_HEAD));
    } elsif ($len > 0) {
        $self->ensure($len);
        $data = substr($self->{win}, $self->{pos} - $self->{win_start}, $len);
    }
    substr($$bufref, $offset) = $data;
    $self->{pos} += length($data);
    return length($data);
}

sub READLINE {
    my ($self) = @_;
    return undef if $self->{pos} >= $self->{size};
    my $sep = defined $/ ? $/ : '';
    my $line = '';
    while ($self->{pos} < $self->{size}) {
        $self->ensure(1);
        my $rel = $self->{pos} - $self->{win_start};
        my $idx = length($sep) ? index($self->{win}, $sep, $rel) : -1;
        if ($idx >= 0) {
            my $take = $idx + length($sep) - $rel;
            $line .= substr($self->{win}, $rel, $take);
            $self->{pos} += $take;
            return $line;
        }
        my $rest = substr($self->{win}, $rel);
        $line .= $rest;
        $self->{pos} += length($rest);
    }
    return $line;
}

sub GETC {
    my ($self) = @_;
    my $c;
    return $self->READ($c, 1) ? $c : undef;
}

sub SEEK {
    my ($self, $offset, $whence) = @_;
    my $pos = $whence == 0 ? $offset : $whence == 1 ? $self->{pos} + $offset : $self->{size} + $offset;
    return 0 if $pos < 0;
    $self->{pos} = $pos;
    return 1;
}

sub TELL { return $_[0]->{pos} }
sub EOF { return $_[0]->{pos} >= $_[0]->{size} ? 1 : 0 }
sub BINMODE { return 1 }
sub FILENO { return undef }
sub CLOSE { return 1 }
sub WRITE { return 0 }
sub PRINT { return 0 }
sub PRINTF { return 0 }

package main;

my $json = JSON::PP->new->canonical(1)->allow_nonref(1)->allow_blessed(1)->convert_blessed(0);
my $utf8_json = JSON::PP->new->utf8(1);

sub reply {
    my ($kind, $bytes) = @_;
    print STDOUT "$kind " . length($bytes) . "\n" . $bytes;
}

# exiftool's own -json writer prints numbers as numbers; match it so exiftool-vendored parses the same.
sub json_value {
    my ($value) = @_;
    if (ref $value eq 'SCALAR') {
        return '(Binary data ' . length($$value) . ' bytes, use -b option to extract)';
    }
    if (ref $value eq 'ARRAY') {
        return [ map { json_value($_) } @$value ];
    }
    if (ref $value eq 'HASH') {
        return { map { ($_ => json_value($value->{$_})) } keys %$value };
    }
    return $value unless defined $value;
    # exiftool hands back UTF-8 bytes; make them characters so the JSON encoder does not encode twice.
    utf8::decode($value) unless utf8::is_utf8($value);
    if ($value =~ /^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?(?:[eE][-+]?\d{1,3})?$/ && $value !~ /^-?0\d/) {
        return $value + 0;
    }
    return "$value";
}

sub new_exiftool {
    my ($fast) = @_;
    my $et = Image::ExifTool->new;
    $et->Options(Duplicates => 0, Struct => 1, FastScan => $fast || 0, KeepUTCTime => 1,
                 Charset => 'UTF8', Binary => 0, LargeFileSupport => 1, IgnoreMinorErrors => 1);
    return $et;
}

sub open_remote {
    my ($size) = @_;
    my $fh = Symbol::gensym();
    tie *$fh, 'RemoteHandle', $size;
    return $fh;
}

sub do_read {
    my ($req) = @_;
    local $BLOCK = $req->{block} if $req->{block};
    # Tags to report as numbers (ValueConv) rather than printed; '*' is a wildcard, as in exiftool's -TAG#.
    my @numeric = map { my $p = quotemeta($_); $p =~ s/\\\*/.*/g; qr/^$p$/ } @{ $req->{numeric} || [] };
    my $is_numeric = sub { my ($name) = @_; foreach (@numeric) { return 1 if $name =~ $_ } return 0 };
    my $fh = open_remote($req->{size});
    my $handle = tied *$fh;
    my $magic = '';
    read($fh, $magic, 12);
    seek($fh, 0, 0);
    $handle->{webp} = $magic =~ /^RIFF....WEBP/s ? 1 : 0;
    # PNG: stop at the first IDAT (FastScan 2) instead of walking every chunk header of the pixel
    # data; exiftool writes PNG metadata before IDAT. Elsewhere 2 would drop MakerNotes (JPEG) or
    # stop at mdat (MP4 with moov at the end), so keep 1.
    my $fast = $req->{fast} && $magic =~ /^\x89PNG\r\n\x1a\n/ ? 2 : $req->{fast};
    my $et = new_exiftool($fast);
    $et->ExtractInfo($fh);
    die "read failed: $handle->{failed}\n" if defined $handle->{failed};
    my %out;
    foreach my $tag ($et->GetFoundTags('File0')) {
        my $name = Image::ExifTool::GetTagName($tag);
        next if exists $out{$name};
        my $value = $et->GetValue($tag, $is_numeric->($name) ? 'ValueConv' : 'PrintConv');
        next unless defined $value;
        $out{$name} = json_value($value);
    }
    # Composite GPS values are signed; EXIF ones are not. Prefer the composite when both exist.
    foreach my $name (qw(GPSLatitude GPSLongitude GPSAltitude)) {
        my $composite = $et->GetValue("Composite:$name", 'ValueConv');
        $out{$name} = json_value($composite) if defined $composite && $is_numeric->($name);
    }
    untie *$fh;
    reply('J', $utf8_json->encode(\%out));
}

sub do_preview {
    my ($req) = @_;
    my $et = new_exiftool(0);
    $et->Options(Binary => 1);
    my $fh = open_remote($req->{size});
    my @tags = @{ $req->{tags} || [qw(JpgFromRaw PreviewImage OtherImage ThumbnailImage)] };
    my $info = $et->ImageInfo($fh, @tags);
    my $handle = tied *$fh;
    die "read failed: $handle->{failed}\n" if defined $handle->{failed};
    untie *$fh;
    # The largest embedded image is the most useful source for renditions.
    my $best = '';
    foreach my $key (keys %$info) {
        my $value = $info->{$key};
        next unless ref $value eq 'SCALAR';
        $best = $$value if length($$value) > length($best);
    }
    reply('B', $best);
}

while (my $line = <STDIN>) {
    chomp $line;
    next if $line eq '';
    my $req = eval { $json->decode($line) };
    unless (ref $req eq 'HASH') {
        reply('X', "bad request: $line");
        next;
    }
    my $op = $req->{op} || '';
    if ($op eq 'ping') { print STDOUT "P 0\n"; next; }
    my $ok = eval {
        if ($op eq 'read') { do_read($req) }
        elsif ($op eq 'preview') { do_preview($req) }
        else { die "unknown op '$op'\n" }
        1;
    };
    unless ($ok) {
        my $err = $@ || 'unknown error';
        $err =~ s/\s+$//;
        reply('X', $err);
    }
}
