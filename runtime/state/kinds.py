"""Record kinds shared by the layer that writes them (services) and the one that realises them (control).

The kind strings are the contract between an API provider and its realiser; keeping them in one place lets
both import them without either importing the other.
"""

VPC = "ec2.vpc"
SUBNET = "ec2.subnet"
ROUTE_TABLE = "ec2.routetable"
INTERNET_GATEWAY = "ec2.internetgateway"
NETWORK_ACL = "ec2.networkacl"
SECURITY_GROUP = "ec2.securitygroup"
NETWORK_INTERFACE = "ec2.networkinterface"
ADDRESS = "ec2.address"
INSTANCE = "ec2.instance"
IMAGE = "ec2.image"

# A Lambda Hyperplane ENI is a NETWORK_INTERFACE with this InterfaceType; its realiser sets the status field
# HYPERPLANE to HYPERPLANE_READY once sandboxes can be plugged into it, which function activation waits for.
LAMBDA_INTERFACE_TYPE = "lambda"
HYPERPLANE = "Hyperplane"
HYPERPLANE_READY = "ready"
