"""The instance types Terrarium offers, and what each becomes on the host (Docker CPU and memory limits).

Figures are AWS's (vCPUs, memory, network performance, us-east-1 Linux on-demand price); the host gives an
instance `--cpus` equal to its vCPUs (capped at the host's cores by the realiser) and a hard memory limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared.filters import matches_filters


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    network: str
    hourly_usd: float
    burstable: bool
    max_enis: int
    ips_per_eni: int

    @property
    def free_tier(self) -> bool:
        return self.name in ("t2.micro", "t3.micro")


TYPES: dict[str, InstanceType] = {t.name: t for t in (
    InstanceType("t2.nano", 1, 512, "Low to Moderate", 0.0058, True, 2, 2),
    InstanceType("t2.micro", 1, 1024, "Low to Moderate", 0.0116, True, 2, 2),
    InstanceType("t2.small", 1, 2048, "Low to Moderate", 0.023, True, 3, 4),
    InstanceType("t2.medium", 2, 4096, "Low to Moderate", 0.0464, True, 3, 6),
    InstanceType("t2.large", 2, 8192, "Low to Moderate", 0.0928, True, 3, 12),
    InstanceType("t2.xlarge", 4, 16384, "Moderate", 0.1856, True, 3, 15),
    InstanceType("t3.nano", 2, 512, "Up to 5 Gigabit", 0.0052, True, 2, 2),
    InstanceType("t3.micro", 2, 1024, "Up to 5 Gigabit", 0.0104, True, 2, 2),
    InstanceType("t3.small", 2, 2048, "Up to 5 Gigabit", 0.0208, True, 3, 4),
    InstanceType("t3.medium", 2, 4096, "Up to 5 Gigabit", 0.0416, True, 3, 6),
    InstanceType("t3.large", 2, 8192, "Up to 5 Gigabit", 0.0832, True, 3, 12),
    InstanceType("t3.xlarge", 4, 16384, "Up to 5 Gigabit", 0.1664, True, 4, 15),
    InstanceType("m5.large", 2, 8192, "Up to 10 Gigabit", 0.096, False, 3, 10),
    InstanceType("m5.xlarge", 4, 16384, "Up to 10 Gigabit", 0.192, False, 4, 15),
    InstanceType("c5.large", 2, 4096, "Up to 10 Gigabit", 0.085, False, 3, 10),
    InstanceType("c5.xlarge", 4, 8192, "Up to 10 Gigabit", 0.17, False, 4, 15),
)}

DEFAULT_TYPE = "m1.small"  # what AWS defaults to; not offered here, so RunInstances asks for a type


def instance_type(name: str) -> InstanceType:
    found = TYPES.get(name)
    if found is None:
        raise AwsError("InvalidInstanceType", f"The instance type '{name}' is not supported by Terrarium. "
                                              f"Supported: {', '.join(TYPES)}")
    return found


def type_shape(t: InstanceType) -> dict:
    return {
        "InstanceType": t.name, "CurrentGeneration": True, "FreeTierEligible": t.free_tier,
        "SupportedUsageClasses": ["on-demand"], "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"], "BareMetal": False, "Hypervisor": "nitro",
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"], "SustainedClockSpeedInGhz": 2.5},
        "VCpuInfo": {"DefaultVCpus": t.vcpus, "DefaultCores": max(1, t.vcpus // 2) if t.vcpus > 1 else 1,
                     "DefaultThreadsPerCore": 2 if t.vcpus > 1 else 1},
        "MemoryInfo": {"SizeInMiB": t.memory_mib}, "InstanceStorageSupported": False,
        "EbsInfo": {"EbsOptimizedSupport": "default", "EncryptionSupport": "supported",
                    "NvmeSupport": "required"},
        "NetworkInfo": {"NetworkPerformance": t.network, "MaximumNetworkInterfaces": t.max_enis,
                        "MaximumNetworkCards": 1, "DefaultNetworkCardIndex": 0,
                        "Ipv4AddressesPerInterface": t.ips_per_eni, "Ipv6AddressesPerInterface": 0,
                        "Ipv6Supported": False, "EnaSupport": "required"},
        "PlacementGroupInfo": {"SupportedStrategies": ["partition", "spread"]},
        "HibernationSupported": False, "BurstablePerformanceSupported": t.burstable,
        "DedicatedHostsSupported": False, "AutoRecoverySupported": True,
        "SupportedBootModes": ["legacy-bios", "uefi"],
    }


class InstanceTypesProvider:
    @operation("DescribeInstanceTypes")
    def describe_instance_types(self, ctx: RequestContext, params: dict) -> dict:
        names = params.get("InstanceTypes") or list(TYPES)
        chosen = [instance_type(n) for n in names]
        fields = {"instance-type": lambda t: t.name, "vcpu-info.default-vcpus": lambda t: t.vcpus,
                  "memory-info.size-in-mib": lambda t: t.memory_mib, "free-tier-eligible": lambda t: t.free_tier,
                  "current-generation": lambda t: True, "burstable-performance-supported": lambda t: t.burstable}
        return {"InstanceTypes": [type_shape(t) for t in chosen
                                  if matches_filters(t, params.get("Filters"), fields)]}
