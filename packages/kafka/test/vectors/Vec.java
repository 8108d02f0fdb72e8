import org.apache.kafka.common.message.*;
import org.apache.kafka.common.protocol.*;
import org.apache.kafka.common.Uuid;
import java.nio.ByteBuffer;
import java.util.*;
public class Vec {
  static String hex(ByteBuffer b) { StringBuilder s = new StringBuilder(); while (b.hasRemaining()) s.append(String.format("%02x", b.get())); return s.toString(); }
  static void out(String name, Message m, short v) {
    try { System.out.println("    [\"" + name + "\", " + v + ", \"" + hex(MessageUtil.toByteBuffer(m, v)) + "\"],"); }
    catch (Exception e) { System.err.println(name + " v" + v + ": " + e); }
  }
  public static void main(String[] a) {
    Uuid id = new Uuid(0x0123456789abcdefL, 0x1122334455667788L);
    for (short v = 0; v <= 12; v++) {
      MetadataResponseData m = new MetadataResponseData();
      if (v >= 3) m.setThrottleTimeMs(7);
      MetadataResponseData.MetadataResponseBroker b = new MetadataResponseData.MetadataResponseBroker().setNodeId(1).setHost("broker-1.example").setPort(9092);
      if (v >= 1) b.setRack("rack-a");
      m.brokers().add(b);
      if (v >= 2) m.setClusterId("cluster-x");
      if (v >= 1) m.setControllerId(1);
      MetadataResponseData.MetadataResponseTopic t = new MetadataResponseData.MetadataResponseTopic().setName("topic-a").setErrorCode((short)0);
      if (v >= 10) t.setTopicId(id);
      if (v >= 8) t.setTopicAuthorizedOperations(123);
      MetadataResponseData.MetadataResponsePartition p = new MetadataResponseData.MetadataResponsePartition().setPartitionIndex(3).setLeaderId(1).setReplicaNodes(Arrays.asList(1,2)).setIsrNodes(Arrays.asList(1));
      if (v >= 7) p.setLeaderEpoch(5);
      if (v >= 5) p.setOfflineReplicas(Arrays.asList(2));
      t.partitions().add(p);
      m.topics().add(t);
      if (v >= 8 && v <= 10) m.setClusterAuthorizedOperations(456);
      out("Metadata", m, v);
    }
    for (short v = 0; v <= 4; v++) {
      FindCoordinatorResponseData m = new FindCoordinatorResponseData();
      if (v >= 1) m.setThrottleTimeMs(3);
      if (v < 4) { m.setNodeId(2).setHost("coord.example").setPort(9093); if (v >= 1) m.setErrorMessage(null); }
      else m.coordinators().add(new FindCoordinatorResponseData.Coordinator().setKey("group-1").setNodeId(2).setHost("coord.example").setPort(9093).setErrorMessage(null));
      out("FindCoordinator", m, v);
    }
    for (short v = 0; v <= 3; v++) {
      ApiVersionsResponseData m = new ApiVersionsResponseData();
      m.apiKeys().add(new ApiVersionsResponseData.ApiVersion().setApiKey((short)0).setMinVersion((short)0).setMaxVersion((short)11));
      m.apiKeys().add(new ApiVersionsResponseData.ApiVersion().setApiKey((short)1).setMinVersion((short)0).setMaxVersion((short)17));
      m.apiKeys().add(new ApiVersionsResponseData.ApiVersion().setApiKey((short)99).setMinVersion((short)0).setMaxVersion((short)1));
      if (v >= 1) m.setThrottleTimeMs(1);
      if (v >= 3) { m.supportedFeatures().add(new ApiVersionsResponseData.SupportedFeatureKey().setName("metadata.version").setMinVersion((short)1).setMaxVersion((short)19)); m.setFinalizedFeaturesEpoch(5); m.setZkMigrationReady(true); }
      out("ApiVersions", m, v);
    }
    byte[] recs = new byte[]{1,2,3,4,5};
    for (short v = 3; v <= 10; v++) {
      ProduceRequestData m = new ProduceRequestData().setTransactionalId(v % 2 == 0 ? "tx" : null).setAcks((short)-1).setTimeoutMs(30000);
      ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData().setName("topic-a");
      t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(0).setRecords(org.apache.kafka.common.record.MemoryRecords.readableRecords(ByteBuffer.wrap(recs))));
      m.topicData().add(t);
      out("ProduceRequest", m, v);
      ProduceResponseData r = new ProduceResponseData().setThrottleTimeMs(2);
      ProduceResponseData.TopicProduceResponse tr = new ProduceResponseData.TopicProduceResponse().setName("topic-a");
      ProduceResponseData.PartitionProduceResponse pr = new ProduceResponseData.PartitionProduceResponse().setIndex(0).setErrorCode((short)0).setBaseOffset(42).setLogAppendTimeMs(-1).setLogStartOffset(0);
      if (v >= 8) { pr.setErrorMessage("msg"); pr.recordErrors().add(new ProduceResponseData.BatchIndexAndErrorMessage().setBatchIndex(1).setBatchIndexErrorMessage("bad")); }
      if (v >= 10) pr.setCurrentLeader(new ProduceResponseData.LeaderIdAndEpoch().setLeaderId(1).setLeaderEpoch(2));
      tr.partitionResponses().add(pr);
      r.responses().add(tr);
      if (v >= 10) r.nodeEndpoints().add(new ProduceResponseData.NodeEndpoint().setNodeId(1).setHost("h").setPort(1));
      out("ProduceResponse", r, v);
    }
    for (short v = 4; v <= 16; v++) {
      FetchRequestData m = new FetchRequestData().setMaxWaitMs(500).setMinBytes(1).setMaxBytes(1<<20).setIsolationLevel((byte)1);
      if (v <= 14) m.setReplicaId(-1);
      if (v >= 7) { m.setSessionId(9).setSessionEpoch(1); }
      FetchRequestData.FetchTopic t = new FetchRequestData.FetchTopic();
      if (v >= 13) t.setTopicId(id); else t.setTopic("topic-a");
      FetchRequestData.FetchPartition fp = new FetchRequestData.FetchPartition().setPartition(3).setFetchOffset(10).setPartitionMaxBytes(1<<20);
      if (v >= 9) fp.setCurrentLeaderEpoch(5);
      if (v >= 12) fp.setLastFetchedEpoch(4);
      if (v >= 5) fp.setLogStartOffset(0);
      t.partitions().add(fp);
      m.topics().add(t);
      if (v >= 7) { FetchRequestData.ForgottenTopic f = new FetchRequestData.ForgottenTopic().setPartitions(Arrays.asList(1)); if (v >= 13) f.setTopicId(id); else f.setTopic("old"); m.forgottenTopicsData().add(f); }
      if (v >= 11) m.setRackId("rack-a");
      if (v >= 12) m.setClusterId("cluster-x");
      out("FetchRequest", m, v);
      FetchResponseData r = new FetchResponseData().setThrottleTimeMs(1);
      if (v >= 7) r.setErrorCode((short)0).setSessionId(9);
      FetchResponseData.FetchableTopicResponse tr = new FetchResponseData.FetchableTopicResponse();
      if (v >= 13) tr.setTopicId(id); else tr.setTopic("topic-a");
      FetchResponseData.PartitionData pd = new FetchResponseData.PartitionData().setPartitionIndex(3).setHighWatermark(100).setLastStableOffset(90).setLogStartOffset(0).setRecords(org.apache.kafka.common.record.MemoryRecords.readableRecords(ByteBuffer.wrap(recs)));
      pd.setAbortedTransactions(new ArrayList<>(List.of(new FetchResponseData.AbortedTransaction().setProducerId(7).setFirstOffset(3))));
      if (v >= 11) pd.setPreferredReadReplica(-1);
      if (v >= 12) pd.setCurrentLeader(new FetchResponseData.LeaderIdAndEpoch().setLeaderId(1).setLeaderEpoch(5));
      tr.partitions().add(pd);
      r.responses().add(tr);
      if (v >= 16) r.nodeEndpoints().add(new FetchResponseData.NodeEndpoint().setNodeId(1).setHost("h").setPort(1).setRack(null));
      out("FetchResponse", r, v);
    }
  }
}
