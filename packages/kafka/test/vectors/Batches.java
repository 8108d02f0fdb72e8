import org.apache.kafka.common.record.*;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.Header;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
public class Batches {
  static String hex(ByteBuffer b) { StringBuilder s = new StringBuilder(); b = b.duplicate(); while (b.hasRemaining()) s.append(String.format("%02x", b.get())); return s.toString(); }
  static byte[] u(String s) { return s.getBytes(StandardCharsets.UTF_8); }
  public static void main(String[] a) {
    StringBuilder big = new StringBuilder(); for (int i = 0; i < 3000; i++) big.append("value ").append(i % 50).append(' ');
    SimpleRecord[] recs = {
      new SimpleRecord(1700000000000L, u("k1"), u("hello world")),
      new SimpleRecord(1700000000001L, (byte[]) null, (byte[]) null),
      new SimpleRecord(1700000000002L, u("k3"), u(big.toString()), new Header[]{ new RecordHeader("h", u("v")), new RecordHeader("n", null) }),
    };
    for (CompressionType c : new CompressionType[]{CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD}) {
      MemoryRecords m = MemoryRecords.withRecords(RecordBatch.MAGIC_VALUE_V2, 5L, c, TimestampType.CREATE_TIME, recs);
      System.out.println("    [\"" + c.name + "\", \"" + hex(m.buffer()) + "\"],");
    }
    MemoryRecords tx = MemoryRecords.withTransactionalRecords(CompressionType.NONE, 77L, (short) 3, 11, new SimpleRecord(1700000000000L, u("k"), u("in a transaction")));
    System.out.println("    [\"transactional\", \"" + hex(tx.buffer()) + "\"],");
    MemoryRecords marker = MemoryRecords.withEndTransactionMarker(9L, 1700000000000L, 0, 77L, (short) 3, new EndTransactionMarker(ControlRecordType.COMMIT, 0));
    System.out.println("    [\"control\", \"" + hex(marker.buffer()) + "\"],");
  }
}
