namespace KafkaCompatBroker.Broker;

/// <summary>The broker could not start for a reason outside its config and log dirs (a listener that cannot bind); the message is one line naming the cause.</summary>
public sealed class BrokerStartupException(string message, Exception innerException) : Exception(message, innerException);
