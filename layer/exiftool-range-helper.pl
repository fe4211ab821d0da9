#!/usr/bin/env perl
# exiftool-range-helper: a long-lived Image::ExifTool process whose file reads are answered by its
# parent over pipes, so the parent can serve them with ranged S3 GETs (only the bytes exiftool needs).
#
# Protocol version 2. Every frame is a header line of ASCII fields separated by one space and ended
# by "\n", followed by exactly <n> bytes of body. Every frame names the request it belongs to (<id>,
# chosen by the parent), so either side detects at once a stream that is out of step.
#   helper -> parent   "H 0 2"                   hello, once at start: protocol version 2
#   parent -> helper   "Q <id> <n>" + n bytes    a request, JSON:
#                        {"op":"read","size":N,"numeric":["Orientation",...],"fast":1,"block":32768}
#                        {"op":"preview","size":N,"tags":["JpgFromRaw","PreviewImage",...]}
#                        {"op":"ping"}
#   helper -> parent   "R <id> <offset> <length>" read request (any number, one at a time)
#   parent -> helper   "D <id> <offset> <n>" + n bytes   the data (n < length only at end of object)
#                      "E <id> <offset> <n>" + n bytes   the read failed: message; the request fails
#   helper -> parent   "J <id> <n>" + n bytes    result of "read": JSON object of tags
#                      "B <id> <n>" + n bytes    result of "preview": the image (n = 0: none)
#                      "P <id> 0"                result of "ping"
#                      "X <id> <n>" + n bytes    the request failed: message (UTF-8)
# One request at a time; the helper is ready for the next one after J/B/P/X. A frame the helper
# cannot parse, or one for another request or offset, makes it exit with status 3: the parent
# restarts it rather than guess where the stream stands.
#
# Each request is served by a child forked for it, which exits after its reply: whatever a file
# does to Image::ExifTool's own global state (a malformed ICC profile, for one, rewrites a shared
# tag table so that every later file's ProfileDescription reads as binary), the next file starts
# from the same clean process. The modules are loaded once, in the parent; the next child is forked
# and warmed up as soon as the last one is done, so the copy-on-write it costs (20-30 ms, see the
# benchmark) is paid while the helper is idle. A child that dies without replying leaves the stream
# in an unknown place: the helper then exits with status 3 too.
#
# Why the framing cannot drift: Image::ExifTool and the modules it loads change Perl's global
# state while parsing ($/ for some formats, and potentially $\, $,, the selected handle, output
# written to STDOUT). The protocol therefore never goes through STDIN/STDOUT or Perl's buffered
# I/O: both are duplicated onto private handles at start, used only with sysread/syswrite (which
# none of those variables affect), and STDIN/STDOUT are pointed at /dev/null and STDERR.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use Image::ExifTool;
use Image::ExifTool::XMP;
use JSON::PP;
use Fcntl ();

our $PROTOCOL_VERSION = 2;
# Size of the aligned window asked for at a time; the parent's block size, sent with each request.
our $BLOCK = 32768;
# WebP: exiftool reads a whole VP8/VP8L chunk (the compressed image) to parse its 10-byte frame
# header. Serve the start of such a chunk and zeros for the rest, which exiftool never looks at.
our $VP8_HEAD = 4096;
# A header line is a handful of numbers; anything longer means the stream is out of step.
our $MAX_HEADER = 256;

package RemoteHandle;
# A tied filehandle over the parent's byte server, with one aligned window of buffered bytes so the
# many small reads exiftool makes cost one round trip per window, not one per read.

sub TIEHANDLE {
    my ($class, $state) = @_;
    return $state if ref $state;    # the same object tied to another glob (see RangedExifTool::Open)
    return bless { size => $state, pos => 0, win_start => 0, win => '', failed => undef, webp => 0 }, $class;
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
    my ($kind, $data) = main::ask_parent($offset, $length);
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
sub CLOSE { $_[0]->{pos} = 0; return 1 }
sub WRITE { return 0 }
sub PRINT { return 0 }
sub PRINTF { return 0 }

package RangedExifTool;
# exiftool "opens" a virtual file named like the object, so it sees the extension (which decides
# between some file types: ASF/WMV, ZIP/EIP, TXT/CSV) exactly as it would for a local file, while
# every byte comes through the tied handle.
our @ISA = ('Image::ExifTool');

my $sparse_count = 0;

# exiftool takes FileSize (which some formats need: DV and MP3 durations, PDF linearization) from
# stat on the open handle, and a tied glob has none. So the glob is also opened on a sparse file of
# the object's size, unlinked at once: stat and -f see that file, every read goes through the tie.
sub back_with_sparse_file {
    my ($fh, $size) = @_;
    my $path = sprintf('/tmp/exiftool-range-helper-%d-%d', $$, ++$sparse_count);
    sysopen(my $create, $path, Fcntl::O_WRONLY() | Fcntl::O_CREAT() | Fcntl::O_EXCL() | Fcntl::O_NOFOLLOW(), 0600) or return;
    my $sized = truncate($create, $size);
    close $create;
    open($fh, '<', $path) if $sized;
    unlink $path;
}

# Only the remote object is ever opened: nothing a file says can make the helper read a local path.
sub Open {
    my ($self, $fh, $file, $mode) = @_;
    my $remote = $$self{REMOTE_HANDLE};
    return 0 unless $remote and not $mode and $file eq $$self{REMOTE_NAME};
    back_with_sparse_file($fh, $remote->{size});
    $remote->SEEK(0, 0);
    tie *$fh, 'RemoteHandle', $remote;
    return 1;
}

sub IsDirectory { return 0 }

package main;

my ($PROTO_IN, $PROTO_OUT);
# In a child: the pipe on which it tells the parent how it ended ('D' replied, 'Q' the parent's pipe closed).
our $DONE;
my $inbuf = '';
my $current_id = 0;

sub out_of_step {
    my ($why) = @_;
    print STDERR "exiftool-range-helper: protocol out of step: $why\n";
    exit 3;
}

# Appends what the parent has sent to the buffer: at least 64 KiB is asked for, or `$want` bytes.
sub fill {
    my ($want) = @_;
    $want = 65536 unless $want and $want > 65536;
    my $got = sysread($PROTO_IN, $inbuf, $want, length $inbuf);
    out_of_step("reading the parent's frames failed: $!") unless defined $got;
    if ($got == 0) {    # the parent closed the pipe: nothing left to do
        syswrite($DONE, 'Q') if $DONE;
        exit 0;
    }
}

sub read_header {
    my $nl;
    while (($nl = index($inbuf, "\n")) < 0) {
        out_of_step('header line too long') if length($inbuf) > $MAX_HEADER;
        fill();
    }
    my $line = substr($inbuf, 0, $nl + 1, '');
    chop $line;
    return $line;
}

sub read_body {
    my ($n) = @_;
    fill($n - length($inbuf)) while length($inbuf) < $n;
    return substr($inbuf, 0, $n, '');
}

sub write_all {
    my ($bytes) = @_;
    my $off = 0;
    while ($off < length $bytes) {
        my $wrote = syswrite($PROTO_OUT, $bytes, length($bytes) - $off, $off);
        exit 0 unless defined $wrote;    # the parent is gone
        $off += $wrote;
    }
}

sub send_frame {
    my ($header, $body) = @_;
    $body = '' unless defined $body;
    utf8::encode($body) if utf8::is_utf8($body);
    write_all($header . ' ' . length($body) . "\n" . $body);
}

sub reply {
    my ($kind, $bytes) = @_;
    send_frame("$kind $current_id", $bytes);
}

# One read round trip for the tied handle: returns ('D', bytes) or ('E', message).
sub ask_parent {
    my ($offset, $length) = @_;
    write_all("R $current_id $offset $length\n");
    my $line = read_header();
    my ($kind, $id, $at, $n) = $line =~ /^([DE]) (\d+) (\d+) (\d+)$/
        or out_of_step("expected a data frame, got '" . substr($line, 0, 80) . "'");
    out_of_step("data for request $id at $at while request $current_id waits for $offset") if $id != $current_id or $at != $offset;
    return ($kind, read_body($n));
}


my $utf8_json = JSON::PP->new->utf8(1);

# exiftool's -json writer, value by value (the exiftool app's ConvertBinary and EscapeJSON): binary
# data becomes a placeholder, "true"/"false" become booleans, conservative numbers become numbers,
# everything else a string without NULs and with invalid UTF-8 fixed. One difference by design: a
# number that would overflow (e.g. "1e999") stays a string, since Inf is not JSON.
sub json_value {
    my ($value) = @_;
    if (ref $value eq 'SCALAR') {
        return $$value =~ /^Binary data \d+ bytes$/ ? "($$value, use -b option to extract)"
                                                  : '(Binary data ' . length($$value) . ' bytes, use -b option to extract)';
    }
    return [ map { json_value($_) } @$value ] if ref $value eq 'ARRAY';
    return { map { ($_ => json_value($value->{$_})) } grep { $_ ne '_ordered_keys_' } keys %$value } if ref $value eq 'HASH';
    return $value if !defined $value or ref $value;
    return lc($value) eq 'true' ? JSON::PP::true : JSON::PP::false if $value =~ /^(true|false)$/i;
    if ($value =~ /^-?(\d|[1-9]\d{1,14})(\.\d{1,16})?(e[-+]?\d{1,3})?$/i) {
        my $number = $value + 0;
        return $number if $number == $number && $number != 9**9**9 && $number != -9**9**9;
    }
    my $string = "$value";
    utf8::encode($string) if utf8::is_utf8($string);
    $string =~ tr/\0//d;
    Image::ExifTool::XMP::FixUTF8(\$string);
    utf8::decode($string);    # characters, so the JSON encoder encodes them once
    return $string;
}

# Options as exiftool's command line sets them for -json (every duplicate extracted, lists kept as
# lists; the output loop keeps the priority value), -fast[N], -api NAME=VALUE and -use MODULE.
sub new_exiftool {
    my ($req, $fast) = @_;
    my $et = RangedExifTool->new;
    $et->Options(Duplicates => 1, List => 1, FastScan => $fast || 0);
    my $api = $req->{api} || {};
    $et->Options($_ => $api->{$_}) foreach sort keys %$api;
    foreach my $module (@{ $req->{use} || [] }) {
        if (lc $module eq 'mwg') {
            require Image::ExifTool::MWG;
            Image::ExifTool::MWG::Load();
            # as the command line does once MWG is used
            $et->Options(CharsetEXIF => 'UTF8') unless defined $et->Options('CharsetEXIF');
        } else {
            $module =~ /^\w+(?:::\w+)*$/ or die "invalid module name '$module'\n";
            eval "require Image::ExifTool::$module; 1" or die "cannot use module $module\n";
        }
    }
    return $et;
}

# A virtual file name with the object's extension, never an existing path.
sub remote_name {
    my ($req) = @_;
    my $ext = defined $req->{ext} && $req->{ext} =~ /^[A-Za-z0-9]{1,16}$/ ? ".$req->{ext}" : '';
    return "remote-object$ext";
}

# ExtractInfo on the remote object through a RangedExifTool; dies with the parent's message when
# one of our reads failed.
sub image_info {
    my ($et, $req, $state, $tags) = @_;
    $$et{REMOTE_HANDLE} = $state;
    $$et{REMOTE_NAME} = remote_name($req);
    my $info = $et->ImageInfo($$et{REMOTE_NAME}, $tags);
    die "read failed: $state->{failed}\n" if defined $state->{failed};
    return $info;
}

sub do_read {
    my ($req) = @_;
    local $BLOCK = $req->{block} if $req->{block};
    my $state = RemoteHandle->TIEHANDLE($req->{size});
    my $magic = '';
    $state->READ($magic, 12);
    $state->{webp} = $magic =~ /^RIFF....WEBP/s ? 1 : 0;
    # PNG: stop at the first IDAT (FastScan 2) instead of walking every chunk header of the pixel
    # data; exiftool writes PNG metadata before IDAT. Elsewhere 2 would drop MakerNotes (JPEG) or
    # stop at mdat (MP4 with moov at the end), so keep 1.
    my $fast = $req->{fast} && $magic =~ /^\x89PNG\r\n\x1a\n/ ? 2 : $req->{fast};
    my $et = new_exiftool($req, $fast);
    my @found = @{ $req->{tags} || ['all'] };
    my $info = image_info($et, $req, $state, \@found);
    # The exiftool app's -json loop: one value per tag name, the priority tag over its copies.
    my %out;
    foreach my $tag (@found) {
        my $name = Image::ExifTool::GetTagName($tag);
        next if exists $out{$name};
        next if $tag =~ /^(.*?) ?\(/ and defined $$info{$1};
        my $value = $$info{$tag};
        next unless defined $value;
        $out{$name} = json_value($value);
    }
    reply('J', $utf8_json->encode(\%out));
}

sub do_preview {
    my ($req) = @_;
    my $et = new_exiftool($req, 0);
    $et->Options(Binary => 1);
    my $state = RemoteHandle->TIEHANDLE($req->{size});
    my @tags = @{ $req->{tags} || [qw(JpgFromRaw PreviewImage OtherImage ThumbnailImage)] };
    my $info = image_info($et, $req, $state, \@tags);
    # The largest embedded image is the most useful source for renditions.
    my $best = '';
    foreach my $key (keys %$info) {
        my $value = $info->{$key};
        next unless ref $value eq 'SCALAR';
        $best = $$value if length($$value) > length($best);
    }
    reply('B', $best);
}

sub handle_request {
    my ($body) = @_;
    my $req = eval { $utf8_json->decode($body) };
    return reply('X', 'bad request: not a JSON object') unless ref $req eq 'HASH';
    my $op = $req->{op} || '';
    return reply('P', '') if $op eq 'ping';
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

sub serve {
    open($PROTO_IN, '<&', \*STDIN) or die "cannot duplicate stdin: $!\n";
    open($PROTO_OUT, '>&', \*STDOUT) or die "cannot duplicate stdout: $!\n";
    binmode $PROTO_IN;
    binmode $PROTO_OUT;
    open(STDIN, '<', '/dev/null') or die "cannot reopen stdin: $!\n";
    open(STDOUT, '>&', \*STDERR) or die "cannot reopen stdout: $!\n";
    # Unbuffered, so nothing a parent buffered is written again by a child's exit.
    select((select(STDERR), $| = 1)[0]);
    select((select(STDOUT), $| = 1)[0]);
    preload();
    send_frame('H 0', $PROTOCOL_VERSION);
    for (;;) {
        # The next request's child is forked as soon as the last one is done, and warms up while
        # the parent's own process (Node) is busy elsewhere: it reads the request itself.
        pipe(my $done_r, $DONE) or out_of_step("no pipe: $!");
        my $pid = fork();
        if (!defined $pid) {    # no fork (process limit): serve the request here, as before
            undef $DONE;
            serve_one();
            next;
        }
        if ($pid == 0) {
            close $done_r;
            warm_up();
            serve_one();
            # Replied in full: say so, then end without perl's teardown of every loaded table
            # (~10 ms); the parent tells a clean end from a kill by this byte, not by the status.
            syswrite($DONE, 'D');
            kill 'KILL', $$;
        }
        close $DONE;
        undef $DONE;
        waitpid($pid, 0);
        my ($status, $done) = ($?, '');
        sysread($done_r, $done, 1);
        close $done_r;
        exit 0 if $done eq 'Q';    # the child saw the parent close the pipe: shut down
        out_of_step("the child serving request " . ($current_id + 1) . " ended with status $status before replying") unless $done eq 'D';
    }
}

sub serve_one {
    my $line = read_header();
    my ($id, $n) = $line =~ /^Q (\d+) (\d+)$/ or out_of_step("expected a request, got '" . substr($line, 0, 80) . "'");
    my $body = read_body($n);
    $current_id = $id;
    handle_request($body);
}

# A small, clean JPEG (EXIF IFD0, XMP, a frame header) and AVIF read by each child before its request:
# the copy-on-write of the pages a read touches then happens while the child waits, not while the
# parent waits for tags. Read in a child only, so the parent's state stays as it was.
sub warm_up {
    my $make = "Warm\0";
    my $tiff = "MM\0*" . pack('N', 8) . pack('n', 2) . pack('nnNN', 0x010f, 2, length $make, 38)
        . pack('nnNnn', 0x0112, 3, 1, 1, 0) . pack('N', 0) . $make;
    my $xmp = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        . "<rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:subject><rdf:Bag><rdf:li>warm</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>";
    my $segment = sub { pack('n2', $_[0], length($_[1]) + 2) . $_[1] };
    my $jpeg = "\xff\xd8" . $segment->(0xffe1, "Exif\0\0$tiff") . $segment->(0xffe1, $xmp)
        . $segment->(0xffc0, pack('CnnC', 8, 8, 8, 1) . pack('CCC', 1, 0x11, 0)) . "\xff\xd9";
    # ...and an ISO-BMFF image (AVIF/HEIC/MP4 share exiftool's QuickTime parser): ftyp, meta (hdlr, ispe).
    my $box = sub { pack('N', 8 + length $_[1]) . $_[0] . $_[1] };
    my $full = sub { $box->($_[0], "\0\0\0\0" . $_[1]) };
    my $avif = $box->('ftyp', "avif\0\0\0\0avifmif1miaf")
        . $full->('meta', $full->('hdlr', "\0\0\0\0pict" . ("\0" x 13)) . $box->('iprp', $box->('ipco', $full->('ispe', pack('NN', 8, 8)))));
    foreach my $sample (\$jpeg, \$avif) {
        my $et = Image::ExifTool->new;
        $et->Options(Duplicates => 1, List => 1, FastScan => 1, Struct => 1);
        my @tags = ('Orientation#', 'all');
        my $info = $et->ImageInfo($sample, \@tags);
        $utf8_json->encode({ map { (Image::ExifTool::GetTagName($_) => json_value($$info{$_})) } @tags });
    }
    # Leave the process as a fresh one: exiftool keeps the last byte order in a global, and some
    # parsers (AAC's bit stream, for one) read with it. A fresh process starts big-endian.
    Image::ExifTool::SetByteOrder('MM');
}

# What most uploads need, compiled once in the parent so that children share it instead of each
# compiling it again (30-50 ms a module): the JPEG/TIFF/PNG/HEIF/MP4 parsers, EXIF and the common
# cameras' maker notes, XMP, IPTC, ICC, and what every read of "all" tags loads. Loading a maker-note
# module also defines its composite tags, exactly as exiftool's `-use MODULE` does; the tests give
# exiftool's command line the same list (`--preloaded-modules`) when they compare its output.
our @PRELOAD = qw(Shortcuts TagLookup Fixup Charset Exif MakerNotes PrintIM XMP XMPStruct.pl Writer.pl IPTC
    Photoshop ICC_Profile JPEG PNG QuickTime GPS Canon Nikon Sony Apple FujiFilm Olympus Panasonic Pentax Samsung);

sub preload {
    require Image::ExifTool::MWG;
    Image::ExifTool::MWG::Load();
    foreach my $module (@PRELOAD) {
        my $ok = $module =~ /\.pl$/ ? eval { require "Image/ExifTool/$module"; 1 } : eval "require Image::ExifTool::$module; 1";
        print STDERR "exiftool-range-helper: could not preload $module: $@" unless $ok;
    }
}

# Run as a program; `require`d (by tests that play a misbehaving module), only define the subs.
unless (caller) {
    if (@ARGV and $ARGV[0] eq '--preloaded-modules') {
        print "$_\n" foreach @PRELOAD;
        exit 0;
    }
    serve();
}
1;
