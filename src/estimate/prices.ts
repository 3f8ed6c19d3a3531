import { CompasEnsembleError } from "../errors.js";

/** Price and size of one EC2 instance type. */
export interface InstancePrice {
  /** vCPUs: one COMPAS process runs per vCPU. */
  vcpus: number;
  /** On-demand Linux price, USD per hour. */
  onDemand: number;
  /** A typical spot price, USD per hour (spot prices move every few minutes, per zone). */
  spot: number;
  /**
   * True when two vCPUs share one physical core (hyper-threading/SMT): a COMPAS process per vCPU
   * then runs slower than on a calibration machine where it had a core to itself.
   */
  smt: boolean;
}

/** The editable price table the estimate reads, with where and when its numbers come from. */
export interface PriceTable {
  /** When the numbers were entered (ISO date). */
  date: string;
  region: string;
  /** Where the numbers come from and how to refresh them. */
  source: string;
  instances: Readonly<Record<string, InstancePrice>>;
}

// On-demand prices are AWS's list prices for Linux in us-east-1; they have not changed since
// these families launched. Spot prices are a rough typical level (about 40 % of on-demand),
// not a quote: check `aws ec2 describe-spot-price-history --instance-types <type>` before
// relying on them. Edit or extend the rows freely; the estimate only reads this object.
const row = (vcpus: number, onDemand: number, smt = true): InstancePrice => ({
  vcpus,
  onDemand,
  spot: Math.round(onDemand * 0.4 * 10_000) / 10_000,
  smt,
});

/**
 * Instance prices used by {@link estimateEnsemble} for the `ec2` and `batch` targets. Replace it
 * (pass `prices` to estimateEnsemble) when your region, contract or the spot market differ.
 */
export const PRICE_TABLE: PriceTable = {
  date: "2026-11-28",
  region: "us-east-1",
  source:
    "on-demand: AWS EC2 on-demand list prices, Linux, us-east-1 (https://aws.amazon.com/ec2/pricing/on-demand/); " +
    "spot: rough typical level of 40 % of on-demand, check `aws ec2 describe-spot-price-history` for today's price",
  instances: {
    // Intel Sapphire Rapids, 2 vCPUs per core.
    "c7i.large": row(2, 0.08925),
    "c7i.xlarge": row(4, 0.1785),
    "c7i.2xlarge": row(8, 0.357),
    "c7i.4xlarge": row(16, 0.714),
    "c7i.8xlarge": row(32, 1.428),
    "c7i.12xlarge": row(48, 2.142),
    "c7i.16xlarge": row(64, 2.856),
    "c7i.24xlarge": row(96, 4.284),
    "c7i.48xlarge": row(192, 8.568),
    // AMD Milan, 2 vCPUs per core.
    "c6a.large": row(2, 0.0765),
    "c6a.xlarge": row(4, 0.153),
    "c6a.2xlarge": row(8, 0.306),
    "c6a.4xlarge": row(16, 0.612),
    "c6a.8xlarge": row(32, 1.224),
    "c6a.12xlarge": row(48, 1.836),
    "c6a.16xlarge": row(64, 2.448),
    "c6a.24xlarge": row(96, 3.672),
    "c6a.32xlarge": row(128, 4.896),
    "c6a.48xlarge": row(192, 7.344),
    // AMD Genoa, one vCPU per physical core.
    "c7a.large": row(2, 0.10264, false),
    "c7a.xlarge": row(4, 0.20528, false),
    "c7a.2xlarge": row(8, 0.41056, false),
    "c7a.4xlarge": row(16, 0.82112, false),
    "c7a.8xlarge": row(32, 1.64224, false),
    "c7a.16xlarge": row(64, 3.28448, false),
    "c7a.48xlarge": row(192, 9.85344, false),
  },
};

/**
 * Looks up an instance type in a price table.
 * @param instanceType - e.g. "c7i.48xlarge"
 * @param table - default {@link PRICE_TABLE}
 */
export function instancePrice(instanceType: string, table: PriceTable = PRICE_TABLE): InstancePrice {
  const price = table.instances[instanceType];
  if (!price) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Instance type ${JSON.stringify(instanceType)} is not in the price table (${table.date}, ${table.region}); ` +
        `known types: ${Object.keys(table.instances).join(", ")}.`,
      { hint: "Pick a listed type, or pass your own `prices` table to estimateEnsemble (src/estimate/prices.ts shows the format)." },
    );
  }
  return price;
}

/**
 * USD per vCPU-hour of an instance type, on demand and spot: what AWS Batch costs per vCPU-hour
 * when its compute environment runs that type.
 * @param instanceType - e.g. "c7i.large"
 * @param table - default {@link PRICE_TABLE}
 */
export function pricePerVcpuHour(instanceType: string, table: PriceTable = PRICE_TABLE): { onDemand: number; spot: number } {
  const p = instancePrice(instanceType, table);
  return { onDemand: p.onDemand / p.vcpus, spot: p.spot / p.vcpus };
}
